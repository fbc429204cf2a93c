// Defaults for a build made with AddressSanitizer (`.ci/sanitize address`); empty otherwise.
//
// Every sanitized process needs them, including those the test suite does not start itself with
// its environment: a gatewayd started by the systemd manager of the sandbox, or as another user
// through runuser, gets no ASAN_OPTIONS or LSAN_OPTIONS, and its exit reported the false
// positives below as leaks (exit 1). Built in, they hold for every process; the script's
// environment only adds the report path.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)

// Not `detect_stack_use_after_return`: Swift's async frames live on the heap, and the fake stack
// only slows every call. `strict_string_checks` off: C strings from Swift are NUL-terminated
// buffers that may be shorter than their allocation.
const char *__asan_default_options(void) {
    return "detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=0";
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
        "leak:libXCTest.so\n";
}

#endif
#endif
