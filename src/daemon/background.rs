//! Work a connection thread does after answering its wrapper (hashing the toolchain's files,
//! storing outputs, the miss journal) runs at a lower CPU priority. Woken by the answer, the
//! wrapper often sits runnable on the very CPU the daemon's thread is busy on; at equal
//! priority it waited for that thread's time slice (~2-3 ms measured on a link miss) before it
//! could hand the build its result. A thread lowered here is not put back: an unprivileged
//! process cannot raise a thread's priority again, so the connection pool retires it once its
//! connection is served.

use std::cell::Cell;

/// How much lower than the daemon's own priority post-answer work runs (nice steps).
const NICE_STEPS: i32 = 10;

thread_local! {
    static LOWERED: Cell<bool> = const { Cell::new(false) };
}

/// Lowers this thread's CPU priority for the rest of its life (Linux: per-thread nice); the
/// scheduler then lets the woken wrapper (and the build's compilers) run first.
pub fn lower_this_thread() {
    if LOWERED.with(Cell::get) {
        return;
    }
    LOWERED.with(|l| l.set(true));
    #[cfg(target_os = "linux")]
    // SAFETY: gettid/getpriority/setpriority act on this thread only; errors are ignored (the
    // work then runs at the daemon's priority, as before).
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        *libc::__errno_location() = 0;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        if *libc::__errno_location() == 0 {
            libc::setpriority(libc::PRIO_PROCESS, tid, (current + NICE_STEPS).min(19));
        }
    }
}

/// Whether [`lower_this_thread`] ran on this thread (the pool then retires it).
pub fn this_thread_lowered() -> bool {
    LOWERED.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_affects_only_the_calling_thread() {
        let nice_of = |tid: libc::id_t| unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) };
        let main_tid = unsafe { libc::gettid() } as libc::id_t;
        let before = nice_of(main_tid);
        let (lowered, flagged) = std::thread::spawn(move || {
            lower_this_thread();
            let tid = unsafe { libc::gettid() } as libc::id_t;
            (nice_of(tid), this_thread_lowered())
        })
        .join()
        .unwrap();
        assert!(flagged);
        assert_eq!(lowered, (before + NICE_STEPS).min(19));
        assert_eq!(nice_of(main_tid), before);
        assert!(!this_thread_lowered());
    }
}
