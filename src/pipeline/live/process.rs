//! What a live capture does to its own process: stop on SIGINT/SIGTERM, and drop root
//! privileges before the first packet is parsed, as tcpdump does.

use super::LiveError;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Installs SIGINT and SIGTERM handlers that ask the capture to stop; returns the flag.
pub fn stop_on_signals() -> &'static AtomicBool {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    &STOP
}

/// Who the process became after dropping root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedTo {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// When running as root, becomes the invoking user (SUDO_UID/SUDO_GID) or `nobody`, as tcpdump
/// does. Returns `None` when not root.
pub fn drop_privileges() -> Result<Option<DroppedTo>, LiveError> {
    // SAFETY: plain system calls without pointers.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let (uid, gid) = match (from_env("SUDO_UID"), from_env("SUDO_GID")) {
        (Some(uid), Some(gid)) if uid != 0 => (uid, gid),
        _ => {
            // SAFETY: getpwnam returns a pointer to static storage or null; read at once.
            let pw = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
            if pw.is_null() {
                return Err(LiveError::NoUnprivilegedUser);
            }
            // SAFETY: non-null result of getpwnam.
            unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
        }
    };
    let fail = |call: &'static str| LiveError::Privileges {
        call,
        source: io::Error::last_os_error(),
    };
    // SAFETY: plain system calls; order matters (groups and gid before uid).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(fail("setgroups"));
        }
        if libc::setgid(gid) != 0 {
            return Err(fail("setgid"));
        }
        if libc::setuid(uid) != 0 {
            return Err(fail("setuid"));
        }
    }
    Ok(Some(DroppedTo { uid, gid }))
}
