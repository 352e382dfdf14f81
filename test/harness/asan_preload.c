/*
 * asan_preload.c — preloaded after the AddressSanitizer runtime into the test
 * server of the sanitizer pass (test/harness/run_tests.sh).
 *
 * The server is not built with ASan, so its runtime initializes lazily, at
 * the first malloc.  Among PostgreSQL's libraries, libgpg-error's constructor
 * calls bindtextdomain(), whose first malloc happens while it holds glibc's
 * gettext lock.  ASan's initialization then looks up the optional symbol
 * swift_demangle with dlsym() and clears the failure with dlerror(), which
 * translates the message through gettext and takes that same lock again:
 * the lock ends up corrupted and the server hangs at its own
 * bindtextdomain() (even `postgres -V` never returns).  Defining the symbol
 * makes the lookup succeed, so no error message is built.  Returning NULL
 * means "not a Swift name": reports demangle names as usual.
 */
#include <stddef.h>
#include <stdint.h>

char	   *swift_demangle(const char *mangled, size_t length, char *buffer,
						   size_t *buffer_size, uint32_t flags);

char *
swift_demangle(const char *mangled, size_t length, char *buffer,
			   size_t *buffer_size, uint32_t flags)
{
	return NULL;
}
