// Defaults for a build made with AddressSanitizer (`.ci/sanitize address`); empty otherwise.
//
// Every sanitized process needs them, including those the test suite does not start itself with
// its environment: a gatewayd started by the systemd manager of the sandbox, or as another user
// through runuser, gets no ASAN_OPTIONS or LSAN_OPTIONS, and its exit reported the false
// positives below as leaks (exit 1). Built in, they hold for every process; the script's
// environment only adds the report path.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

// Whether a seccomp filter confines this process (`Seccomp:` 2 in /proc/self/status), read with
// raw system calls and no libc string function: the sanitizer asks for its options before its
// interceptors and its shadow memory are ready (uninstrumented: an instrumented access here, or a
// call to an intercepted strstr, crashed every process).
__attribute__((no_sanitize("address")))
static int confined_by_seccomp(void) {
    static char status[4096];
    static const char key[] = "\nSeccomp:";
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    long n = syscall(SYS_read, fd, status, sizeof status - 1);
    syscall(SYS_close, fd);
    for (long i = 0; i + (long)sizeof key < n; i++) {
        long k = 0;
        while (k < (long)sizeof key - 1 && status[i + k] == key[k]) k++;
        if (k < (long)sizeof key - 1) continue;
        long at = i + k;
        while (at < n && (status[at] == ' ' || status[at] == '\t')) at++;
        return at < n && status[at] == '2';
    }
    return 0;
}

// Not `detect_stack_use_after_return`: Swift's async frames live on the heap, and the fake stack
// only slows every call. `strict_string_checks` off: C strings from Swift are NUL-terminated
// buffers that may be shorter than their allocation.
//
// No leak check under a seccomp filter: LeakSanitizer stops the process's threads with ptrace,
// which the shipped units' SystemCallFilter=@system-service denies (it is in @debug), and the
// check then ends the process with "LeakSanitizer has encountered a fatal error" and exit 1 at
// every stop (a gatewayd under the units, and a gatewayctl its quick command runs). The same
// code is leak-checked in the test processes and in the daemons the tests start directly.
__attribute__((no_sanitize("address")))
const char *__asan_default_options(void) {
    return confined_by_seccomp()
        ? "detect_leaks=0:detect_stack_use_after_return=0:strict_string_checks=0"
        : "detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=0";
}

// Each names the false positive it covers and why it is one; nothing of gatewayd's own is here.
const char *__lsan_default_suppressions(void) {
    return
        // Swift weak references: the side table swift_weakInit allocates is pointed to only from
        // the object's refcount word, in an encoded form (shifted, with flag bits) that
        // LeakSanitizer cannot read as a pointer, so the side table of an object still alive at
        // exit (VarlinkServer's `[weak self]` in its child-channel initializer) is reported as a
        // direct leak. A real leak of such an object is still reported: the object itself is
        // then unreachable.
        "leak:formWeakReference\n"
        // XCTest's own run bookkeeping (XCTMainMisc, XCTestSuiteRun) in the test bundle:
        // swift-testing runs the tests, XCTest's main runs none and exits without freeing its
        // suite objects.
        "leak:libXCTest.so\n"
        // FoundationEssentials' readBytesFromFile (String(contentsOfFile:)) loses its 4096-byte
        // read buffer when the file is empty: a test reading a child's empty stderr saw it.
        "leak:readBytesFromFile\n";
}

#endif
#endif
