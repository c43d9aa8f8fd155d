//! Janus VideoRoom over Janus's WebSocket API (placeholder while it is written).

use super::{Backend, BackendKind, ClientMsg, Decoded, ProtocolError, ServerMsg};
use crate::settings::SessionSettings;

pub struct JanusBackend;

impl JanusBackend {
    pub fn new(_settings: &SessionSettings) -> JanusBackend {
        JanusBackend
    }
}

impl Backend for JanusBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Janus
    }
    fn encode(&mut self, _msg: ClientMsg, _out: &mut Vec<String>) {}
    fn decode(&mut self, _frame: &str, _out: &mut Decoded) -> Result<(), ProtocolError> {
        Ok(())
    }
    fn on_close(&mut self, _code: Option<u16>, _reason: &str) -> Option<ServerMsg> {
        None
    }
}
