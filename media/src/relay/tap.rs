//! Installing detector taps into a core that lives on another thread.
//!
//! [`RelayCore::register_tap`](super::RelayCore::register_tap) needs the
//! core itself; a driver's worker owns its core, and the control side only
//! reaches it through [`Command`](super::Command)s. A [`TapHandle`] carries a
//! boxed tap inside a command ([`Command::InstallTap`](super::Command::InstallTap)):
//! the core takes the tap out of the handle once, on the command path (one
//! uncontended lock per install, never per packet).

use std::sync::{Arc, Mutex};

use super::DetectorTap;

/// A detector tap on its way to a core (see the [module documentation](self)).
/// Clones share the tap; equality is identity.
#[derive(Clone)]
pub struct TapHandle(Arc<Mutex<Option<Box<dyn DetectorTap>>>>);

impl TapHandle {
    /// Wraps `tap` for [`Command::InstallTap`](super::Command::InstallTap).
    pub fn new(tap: Box<dyn DetectorTap>) -> Self {
        TapHandle(Arc::new(Mutex::new(Some(tap))))
    }

    /// Takes the tap out (`None` once it was taken).
    pub fn take(&self) -> Option<Box<dyn DetectorTap>> {
        match self.0.lock() {
            Ok(mut g) => g.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    /// Whether the tap is still in the handle (not yet installed).
    pub fn is_pending(&self) -> bool {
        self.0.lock().map(|g| g.is_some()).unwrap_or(false)
    }
}

impl std::fmt::Debug for TapHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapHandle")
            .field("pending", &self.is_pending())
            .finish()
    }
}

impl PartialEq for TapHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TapHandle {}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Count(Arc<AtomicU64>);

    impl DetectorTap for Count {
        fn on_rtp(&mut self, _: &TapPacket<'_>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn install_by_command_then_attach() {
        let n = Arc::new(AtomicU64::new(0));
        let mut core = RelayCore::new(RelayConfig::default());
        let now = std::time::Duration::ZERO;
        let handle = TapHandle::new(Box::new(Count(n.clone())));
        let id = TapId(3);
        let install = Command::InstallTap {
            id,
            tap: handle.clone(),
        };
        core.handle_input(now, Input::Command(install.clone()))
            .unwrap();
        assert!(!handle.is_pending());
        // a handle installs once
        assert_eq!(
            core.handle_input(now, Input::Command(install)),
            Err(RelayError::UnknownTap(id))
        );
        let call = CallId(1);
        core.handle_input(now, Input::Command(Command::CreateCall { call }))
            .unwrap();
        let remote: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let spec = LegSpec::new(LocalPort(100), LocalPort(101), Some(remote));
        let leg = LegId(1);
        core.handle_input(now, Input::Command(Command::AddLeg { call, leg, spec }))
            .unwrap();
        core.handle_input(now, Input::Command(Command::SetTap { leg, tap: Some(id) }))
            .unwrap();
        let mut pkt = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
        pkt.extend_from_slice(&[0xff; 160]);
        let data = bytes::BytesMut::from(&pkt[..]);
        core.handle_input(
            now,
            Input::Datagram {
                local: LocalPort(100),
                from: remote,
                data,
            },
        )
        .unwrap();
        assert_eq!(n.load(Ordering::Relaxed), 1);
    }
}
