//! The chain store in the overseer's chain-store slot: answers
//! [`ChainStoreMessage`] queries (best and finalized block, headers, canonical hashes)
//! from a [`ChainStore`] handle. Writes go through block import, which holds its own
//! handle on the same database; readers that need state take a [`crate::StateView`]
//! directly instead of sending a message per key.

use crate::ChainStore;
use weft_messages::{ChainStoreMessage, ChainStoreSlot, OverseerSignal};
use weft_overseer::{Context, Subsystem};

/// The chain-store subsystem.
pub struct ChainStoreSubsystem {
    store: ChainStore,
}

impl ChainStoreSubsystem {
    /// A subsystem answering from `store`.
    pub fn new(store: ChainStore) -> Self {
        ChainStoreSubsystem { store }
    }
}

fn or_log<T>(what: &str, result: Result<T, crate::StoreError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!(error = %e, "chain store: {what} failed");
            None
        }
    }
}

impl Subsystem for ChainStoreSubsystem {
    type Slot = ChainStoreSlot;
    type Event = ();

    fn implementation(&self) -> &str {
        "sled"
    }

    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>) {
        if matches!(signal, OverseerSignal::Conclude) {
            if let Err(e) = self.store.flush() {
                ctx.exit(format!("chain store: flush at shutdown failed: {e}"));
            }
        }
    }

    fn on_message(&mut self, message: ChainStoreMessage, ctx: &mut Context<'_, '_, Self>) {
        match message {
            ChainStoreMessage::BestBlock { reply } => match or_log("best block", self.store.best()) {
                Some((number, hash)) => {
                    let _ = reply.send((hash, number));
                }
                None => ctx.exit("chain store: cannot read the best block"),
            },
            ChainStoreMessage::FinalizedBlock { reply } => match or_log("finalized block", self.store.finalized()) {
                Some((number, hash)) => {
                    let _ = reply.send((hash, number));
                }
                None => ctx.exit("chain store: cannot read the finalized block"),
            },
            ChainStoreMessage::Header { hash, reply } => {
                let _ = reply.send(or_log("header", self.store.header(&hash)).flatten());
            }
            ChainStoreMessage::BlockHash { number, reply } => {
                let _ = reply.send(or_log("canonical hash", self.store.canonical_hash(number)).flatten());
            }
        }
    }
}
