/*
 * asan_preload.c — preloaded right after the AddressSanitizer runtime into
 * the test server of the sanitizer pass (test/harness/run_tests.sh).
 *
 * swift_demangle: the server is not built with ASan, so its runtime
 * initializes lazily, at the first malloc.  Among PostgreSQL's libraries,
 * libgpg-error's constructor calls bindtextdomain(), whose first malloc
 * happens while it holds glibc's gettext lock.  ASan's initialization then
 * looks up the optional symbol swift_demangle with dlsym() and clears the
 * failure with dlerror(), which translates the message through gettext and
 * takes that same lock again: the lock ends up corrupted and the server
 * hangs at its own bindtextdomain() (even `postgres -V` never returns).
 * Defining the symbol makes the lookup succeed, so no error message is
 * built.  Returning NULL means "not a Swift name": reports demangle names as
 * usual.
 *
 * __ubsan_default_options: the UBSan runtime comes with the extension and
 * reads UBSAN_OPTIONS from /proc/self/environ when it first reports, by
 * which time the server has overwritten that memory with its process
 * titles.  Options compiled in here are found instead (this library comes
 * before the runtime in the lookup order).
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

const char *__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	return "print_stacktrace=1";
}
