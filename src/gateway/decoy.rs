//! The decoy: a plain-HTTP listener on loopback that records every request and answers
//! `200 {"mxh_decoy": true}`. Routing-spoofing checks name its address in Host,
//! X-Forwarded-Host or Forwarded (`${decoy}`); a request of theirs recorded here went where the
//! remote's header said instead of to the homeserver.

use std::net::SocketAddr;

use super::GatewayError;
use super::tap::{Behind, Tap, Tapped};

/// A running decoy (a tap with nothing behind it); stops accepting when dropped.
#[derive(Debug)]
pub struct Decoy(Tap);

impl Decoy {
    /// Listen on a free loopback port.
    pub async fn start() -> Result<Decoy, GatewayError> {
        Tap::listen(([127, 0, 0, 1], 0).into(), Behind::Nothing)
            .await
            .map(Decoy)
    }

    /// `127.0.0.1:PORT`, what `${decoy}` stands for.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// Recorded requests carrying `marker`.
    pub fn seen_with(&self, marker: &str) -> Vec<Tapped> {
        self.0.seen_with(marker)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gateway::raw::{self, Endpoint, RawRequest};

    #[tokio::test]
    async fn the_decoy_records_and_answers() {
        let decoy = Decoy::start().await.unwrap();
        let endpoint = Endpoint::new(&format!("http://{}", decoy.addr()), None).unwrap();
        let request = RawRequest {
            method: "GET".into(),
            target: "/x?m=mark9".into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let (r, _) = raw::send(&endpoint, &request, Duration::from_secs(5)).await;
        assert_eq!(r.unwrap().status, 200);
        assert_eq!(decoy.seen_with("mark9").len(), 1);
        assert!(decoy.seen_with("other").is_empty());
    }
}
