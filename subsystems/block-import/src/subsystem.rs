//! The importer in the overseer's block-import slot.
//!
//! [`BlockImportSubsystem`] handles [`BlockImportMessage::ImportBlocks`] (verify, execute
//! and commit in order, stopping at the first invalid block) and
//! [`BlockImportMessage::ImportJustification`]. After each imported block it reports the
//! new leaf, and after each finalization the finalized block, through a [`SignalSink`]:
//! the node wires the sink to the overseer handle, which broadcasts `ActiveLeaves` and
//! `BlockFinalized` to every subsystem (signals are the overseer's to send, not a
//! subsystem's). Block announcements go to the network bridge as messages.

use crate::{decode_block, Importer};
use std::sync::Arc;
use weft_block::{Justifications, GRANDPA_ENGINE_ID};
use weft_messages::{
    ActivatedLeaf, ActiveLeavesUpdate, BlockImportMessage, BlockImportSlot, BlockOrigin, NetworkBridgeMessage,
    OverseerSignal,
};
use weft_overseer::{Context, Subsystem};

/// Where the subsystem sends the signals its imports cause.
pub type SignalSink = Arc<dyn Fn(OverseerSignal) + Send + Sync>;

/// The block-import subsystem.
pub struct BlockImportSubsystem {
    importer: Importer,
    signals: SignalSink,
}

impl BlockImportSubsystem {
    /// A subsystem around `importer`, reporting signals to `signals`.
    pub fn new(importer: Importer, signals: SignalSink) -> Self {
        BlockImportSubsystem { importer, signals }
    }

    /// The importer.
    pub fn importer(&self) -> &Importer {
        &self.importer
    }

    fn import_all(
        &mut self,
        blocks: Vec<weft_messages::IncomingBlock>,
        ctx: &mut Context<'_, '_, Self>,
    ) -> Result<Vec<weft_messages::Hash>, String> {
        let mut imported = Vec::with_capacity(blocks.len());
        for incoming in blocks {
            let block = decode_block(&parity_scale_codec::Encode::encode(&incoming.header), &incoming.body)?;
            let justifications = incoming.justification.map(|j| Justifications::new(GRANDPA_ENGINE_ID, j));
            let outcome = self.importer.import_block(&block, justifications.as_ref()).map_err(|e| e.to_string())?;
            imported.push(outcome.hash);
            if outcome.already_known {
                continue;
            }
            if outcome.is_best {
                (self.signals)(OverseerSignal::ActiveLeaves(ActiveLeavesUpdate {
                    activated: Some(ActivatedLeaf { hash: outcome.hash, number: outcome.number }),
                    deactivated: vec![block.header.parent_hash],
                }));
                if !matches!(incoming.origin, BlockOrigin::NetworkInitialSync(_)) {
                    ctx.send(NetworkBridgeMessage::AnnounceBlock { hash: outcome.hash, number: outcome.number });
                }
            }
            if outcome.finalized {
                (self.signals)(OverseerSignal::BlockFinalized(outcome.hash, outcome.number));
            }
        }
        Ok(imported)
    }
}

impl Subsystem for BlockImportSubsystem {
    type Slot = BlockImportSlot;
    type Event = ();

    fn implementation(&self) -> &str {
        "default"
    }

    fn on_signal(&mut self, signal: &OverseerSignal, _ctx: &mut Context<'_, '_, Self>) {
        if matches!(signal, OverseerSignal::Conclude) {
            if let Err(e) = self.importer.store().flush() {
                tracing::error!(error = %e, "block import: flushing the store at shutdown failed");
            }
        }
    }

    fn on_message(&mut self, message: BlockImportMessage, ctx: &mut Context<'_, '_, Self>) {
        match message {
            BlockImportMessage::ImportBlocks { blocks, reply } => {
                let result = self.import_all(blocks, ctx);
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "block import stopped");
                }
                let _ = reply.send(result);
            }
            BlockImportMessage::ImportJustification { hash, number, justification, reply } => {
                let result = self.importer.import_justification(&hash, &justification).map_err(|e| e.to_string());
                if result.is_ok() {
                    (self.signals)(OverseerSignal::BlockFinalized(hash, number));
                }
                let _ = reply.send(result);
            }
        }
    }
}
