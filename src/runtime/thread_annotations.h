// Clang's thread-safety annotations (-Wthread-safety), as leveldb's
// port/thread_annotations.h and abseil's base/thread_annotations.h spell
// them: what a `// guarded by` comment promised, checked by the compiler.
//
//   Mutex mutex_;
//   int count_ GUARDED_BY(mutex_) = 0;
//   void bump() REQUIRES(mutex_);  // callers hold mutex_
//
// Under GCC they expand to nothing; the `clang-threads` preset
// (CMakePresets.json, built by scripts/test) compiles the libraries with
// clang, -Wthread-safety and -Werror. Lambdas that read guarded members
// under a held lock (condition-wait predicates) say so: [&]() REQUIRES(mutex_) {...}.
#pragma once

#if defined(__clang__)
#define DOCVAULT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define DOCVAULT_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) DOCVAULT_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY DOCVAULT_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) DOCVAULT_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) DOCVAULT_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) DOCVAULT_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) DOCVAULT_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) DOCVAULT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) DOCVAULT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) DOCVAULT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) DOCVAULT_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) DOCVAULT_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) DOCVAULT_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) DOCVAULT_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) DOCVAULT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define RETURN_CAPABILITY(x) DOCVAULT_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS DOCVAULT_THREAD_ANNOTATION(no_thread_safety_analysis)
