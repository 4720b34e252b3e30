//! The vocabulary of Weft's overseer: signals, one message enum per subsystem
//! slot, the routing enum [`AllMessages`], and the declared topology.
//!
//! The topology (which slots exist, what each consumes and which slots it may
//! send to) is written once, in [`with_slots!`]. From it this crate generates:
//!
//! * [`SlotId`], naming every slot;
//! * [`AllMessages`], one variant per slot, for routing;
//! * per slot, a marker type implementing [`Slot`] and a narrow *outgoing*
//!   enum (e.g. [`SyncOutgoing`]) with a `From` impl only for the message types
//!   the slot declared it may send. A subsystem sends through
//!   `ctx.send(msg)` where `msg: Into<Self::Outgoing>`, so sending an
//!   undeclared message is a compile error.
//!
//! Requests carry their reply channel inside the variant (a
//! [`oneshot::Sender`]). The crate holds types only: no actors, no I/O.
//!
//! Message enums of slots whose subsystem does not exist yet are deliberately
//! small; each grows with the issue that builds the subsystem.

pub use futures_channel::oneshot;
pub use weft_block::{BlockNumber, Hash, Header};

pub mod messages;
pub use messages::*;

/// A change in the set of blocks the node works on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ActiveLeavesUpdate {
    /// Newly activated leaf, if any.
    pub activated: Option<ActivatedLeaf>,
    /// Leaves that are no longer active.
    pub deactivated: Vec<Hash>,
}

/// A block that became an active leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActivatedLeaf {
    pub hash: Hash,
    pub number: BlockNumber,
}

/// Signals from the overseer to every subsystem, delivered on their own path.
///
/// A message sent by a subsystem after it handled signal *N* is never handled
/// by its receiver before the receiver has handled signal *N*.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OverseerSignal {
    /// The set of active leaves changed.
    ActiveLeaves(ActiveLeavesUpdate),
    /// A block was finalized.
    BlockFinalized(Hash, BlockNumber),
    /// The node is stopping: finish and exit.
    Conclude,
}

/// Describes one slot: what it consumes and what it may send.
pub trait Slot: 'static {
    /// Messages the slot's subsystem consumes.
    type Message: std::fmt::Debug + Send + Into<AllMessages> + TryFrom<AllMessages, Error = AllMessages> + 'static;
    /// The narrow type of what it may send.
    type Outgoing: Outgoing;
    /// Which slot this is.
    const ID: SlotId;
}

/// A slot's narrow outgoing enum: convertible to [`AllMessages`] for routing.
pub trait Outgoing: std::fmt::Debug + Send + Into<AllMessages> + 'static {
    /// The slots this outgoing type can address.
    const TARGETS: &'static [SlotId];
}

/// Invokes `$callback!` with the whole topology, so that several crates can
/// generate code from the one declaration. Each entry is
/// `(Variant, snake_name, replace_fn, SlotMarker, Message, Outgoing, "description") sends [Target: TargetMessage, ...]`.
#[macro_export]
macro_rules! with_slots {
    ($callback:ident) => {
        $callback! {
            (NetworkBridge, network_bridge, replace_network_bridge, NetworkBridgeSlot, NetworkBridgeMessage, NetworkBridgeOutgoing, "libp2p peers and notification protocols")
                sends [Sync: SyncMessage, Grandpa: GrandpaMessage, StatementDistribution: StatementDistributionMessage, BitfieldDistribution: BitfieldDistributionMessage, ApprovalDistribution: ApprovalDistributionMessage, CollatorProtocol: CollatorProtocolMessage, AvailabilityDistribution: AvailabilityDistributionMessage, TxPool: TxPoolMessage];
            (Sync, sync, replace_sync, SyncSlot, SyncMessage, SyncOutgoing, "block download from peers")
                sends [NetworkBridge: NetworkBridgeMessage, BlockImport: BlockImportMessage, ChainStore: ChainStoreMessage];
            (BlockImport, block_import, replace_block_import, BlockImportSlot, BlockImportMessage, BlockImportOutgoing, "verification, execution and commit of blocks")
                sends [ChainStore: ChainStoreMessage, RuntimeExecutor: RuntimeExecutorMessage, Babe: BabeMessage, Grandpa: GrandpaMessage, ChainSelection: ChainSelectionMessage, NetworkBridge: NetworkBridgeMessage];
            (ChainStore, chain_store, replace_chain_store, ChainStoreSlot, ChainStoreMessage, ChainStoreOutgoing, "headers, bodies, justifications and state on disk")
                sends [];
            (RuntimeExecutor, runtime_executor, replace_runtime_executor, RuntimeExecutorSlot, RuntimeExecutorMessage, RuntimeExecutorOutgoing, "Wasm runtime calls through the host API")
                sends [ChainStore: ChainStoreMessage];
            (Babe, babe, replace_babe, BabeSlot, BabeMessage, BabeOutgoing, "BABE slots, epochs and block authoring")
                sends [RuntimeExecutor: RuntimeExecutorMessage, BlockImport: BlockImportMessage, ChainStore: ChainStoreMessage, Provisioner: ProvisionerMessage, NetworkBridge: NetworkBridgeMessage];
            (Grandpa, grandpa, replace_grandpa, GrandpaSlot, GrandpaMessage, GrandpaOutgoing, "GRANDPA voting and finality")
                sends [NetworkBridge: NetworkBridgeMessage, ChainStore: ChainStoreMessage, BlockImport: BlockImportMessage, ChainSelection: ChainSelectionMessage];
            (TxPool, tx_pool, replace_tx_pool, TxPoolSlot, TxPoolMessage, TxPoolOutgoing, "transaction pool")
                sends [RuntimeExecutor: RuntimeExecutorMessage, ChainStore: ChainStoreMessage, NetworkBridge: NetworkBridgeMessage];
            (ChainSelection, chain_selection, replace_chain_selection, ChainSelectionSlot, ChainSelectionMessage, ChainSelectionOutgoing, "best-chain choice respecting approvals and disputes")
                sends [ChainStore: ChainStoreMessage];
            (CandidateValidation, candidate_validation, replace_candidate_validation, CandidateValidationSlot, CandidateValidationMessage, CandidateValidationOutgoing, "PVF execution of parachain candidates")
                sends [RuntimeExecutor: RuntimeExecutorMessage, ChainStore: ChainStoreMessage];
            (CandidateBacking, candidate_backing, replace_candidate_backing, CandidateBackingSlot, CandidateBackingMessage, CandidateBackingOutgoing, "backing of parachain candidates")
                sends [CandidateValidation: CandidateValidationMessage, AvailabilityStore: AvailabilityStoreMessage, StatementDistribution: StatementDistributionMessage, Provisioner: ProvisionerMessage];
            (StatementDistribution, statement_distribution, replace_statement_distribution, StatementDistributionSlot, StatementDistributionMessage, StatementDistributionOutgoing, "gossip of backing statements")
                sends [NetworkBridge: NetworkBridgeMessage, CandidateBacking: CandidateBackingMessage];
            (AvailabilityStore, availability_store, replace_availability_store, AvailabilityStoreSlot, AvailabilityStoreMessage, AvailabilityStoreOutgoing, "erasure chunks and available data")
                sends [ChainStore: ChainStoreMessage];
            (AvailabilityDistribution, availability_distribution, replace_availability_distribution, AvailabilityDistributionSlot, AvailabilityDistributionMessage, AvailabilityDistributionOutgoing, "fetching and serving our chunks")
                sends [NetworkBridge: NetworkBridgeMessage, AvailabilityStore: AvailabilityStoreMessage];
            (AvailabilityRecovery, availability_recovery, replace_availability_recovery, AvailabilityRecoverySlot, AvailabilityRecoveryMessage, AvailabilityRecoveryOutgoing, "recovery of available data from chunks")
                sends [NetworkBridge: NetworkBridgeMessage, AvailabilityStore: AvailabilityStoreMessage];
            (BitfieldSigning, bitfield_signing, replace_bitfield_signing, BitfieldSigningSlot, BitfieldSigningMessage, BitfieldSigningOutgoing, "signing availability bitfields")
                sends [AvailabilityStore: AvailabilityStoreMessage, BitfieldDistribution: BitfieldDistributionMessage];
            (BitfieldDistribution, bitfield_distribution, replace_bitfield_distribution, BitfieldDistributionSlot, BitfieldDistributionMessage, BitfieldDistributionOutgoing, "gossip of availability bitfields")
                sends [NetworkBridge: NetworkBridgeMessage, Provisioner: ProvisionerMessage];
            (Provisioner, provisioner, replace_provisioner, ProvisionerSlot, ProvisionerMessage, ProvisionerOutgoing, "inherent data for block authoring")
                sends [CandidateBacking: CandidateBackingMessage, ChainStore: ChainStoreMessage];
            (ApprovalVoting, approval_voting, replace_approval_voting, ApprovalVotingSlot, ApprovalVotingMessage, ApprovalVotingOutgoing, "assignments and approvals of included candidates")
                sends [AvailabilityRecovery: AvailabilityRecoveryMessage, CandidateValidation: CandidateValidationMessage, ApprovalDistribution: ApprovalDistributionMessage, ChainSelection: ChainSelectionMessage, ChainStore: ChainStoreMessage, DisputeCoordinator: DisputeCoordinatorMessage];
            (ApprovalDistribution, approval_distribution, replace_approval_distribution, ApprovalDistributionSlot, ApprovalDistributionMessage, ApprovalDistributionOutgoing, "gossip of assignments and approvals")
                sends [NetworkBridge: NetworkBridgeMessage, ApprovalVoting: ApprovalVotingMessage];
            (DisputeCoordinator, dispute_coordinator, replace_dispute_coordinator, DisputeCoordinatorSlot, DisputeCoordinatorMessage, DisputeCoordinatorOutgoing, "dispute participation and resolution")
                sends [CandidateValidation: CandidateValidationMessage, AvailabilityRecovery: AvailabilityRecoveryMessage, ChainSelection: ChainSelectionMessage, NetworkBridge: NetworkBridgeMessage];
            (CollatorProtocol, collator_protocol, replace_collator_protocol, CollatorProtocolSlot, CollatorProtocolMessage, CollatorProtocolOutgoing, "collations from collators")
                sends [NetworkBridge: NetworkBridgeMessage, CandidateBacking: CandidateBackingMessage];
        }
    };
}

macro_rules! generate_routing {
    ($( ($variant:ident, $snake:ident, $replace:ident, $marker:ident, $msg:ident, $out:ident, $desc:literal)
        sends [ $( $tvariant:ident : $tmsg:ident ),* ] ; )*) => {
        /// Every slot of the overseer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum SlotId {
            $( #[doc = $desc] $variant, )*
        }

        impl SlotId {
            /// All slots, in declaration order.
            pub const ALL: &'static [SlotId] = &[ $( SlotId::$variant, )* ];

            /// The slot's name as used in config files (`[subsystems.<name>]`).
            pub fn name(self) -> &'static str {
                match self { $( SlotId::$variant => stringify!($snake), )* }
            }

            /// One-line description of the slot's role.
            pub fn description(self) -> &'static str {
                match self { $( SlotId::$variant => $desc, )* }
            }

            /// Looks a slot up by its config name.
            pub fn from_name(name: &str) -> Option<SlotId> {
                match name { $( stringify!($snake) => Some(SlotId::$variant), )* _ => None }
            }

            /// The slots this slot may send to.
            pub fn targets(self) -> &'static [SlotId] {
                match self { $( SlotId::$variant => <$out as Outgoing>::TARGETS, )* }
            }
        }

        impl std::fmt::Display for SlotId {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        /// A message for any slot: what the overseer routes.
        #[derive(Debug)]
        pub enum AllMessages {
            $( $variant($msg), )*
        }

        impl AllMessages {
            /// The slot this message is addressed to.
            pub fn slot(&self) -> SlotId {
                match self { $( AllMessages::$variant(_) => SlotId::$variant, )* }
            }
        }

        $(
            impl From<$msg> for AllMessages {
                fn from(m: $msg) -> Self { AllMessages::$variant(m) }
            }

            impl TryFrom<AllMessages> for $msg {
                type Error = AllMessages;
                fn try_from(m: AllMessages) -> Result<Self, AllMessages> {
                    match m { AllMessages::$variant(m) => Ok(m), other => Err(other) }
                }
            }

            #[doc = concat!("Marker type of the `", stringify!($snake), "` slot.")]
            #[derive(Debug, Clone, Copy, Default)]
            pub struct $marker;

            impl Slot for $marker {
                type Message = $msg;
                type Outgoing = $out;
                const ID: SlotId = SlotId::$variant;
            }

            #[doc = concat!("What the `", stringify!($snake), "` slot may send: only the declared targets.")]
            #[derive(Debug)]
            pub enum $out {
                $( $tvariant($tmsg), )*
            }

            impl Outgoing for $out {
                const TARGETS: &'static [SlotId] = &[ $( SlotId::$tvariant, )* ];
            }

            impl From<$out> for AllMessages {
                #[allow(unreachable_code, unused_variables)]
                fn from(o: $out) -> AllMessages {
                    match o { $( $out::$tvariant(m) => AllMessages::$tvariant(m), )* }
                }
            }

            $(
                impl From<$tmsg> for $out {
                    fn from(m: $tmsg) -> Self { $out::$tvariant(m) }
                }
            )*
        )*
    };
}

with_slots!(generate_routing);

/// The topology as a Graphviz DOT document: one node per slot, one edge per
/// declared "may send" relation.
pub fn topology_dot() -> String {
    let mut out = String::from("digraph weft_overseer {\n  rankdir=LR;\n  node [shape=box];\n");
    for slot in SlotId::ALL {
        out.push_str(&format!("  {} [label=\"{}\\n{}\"];\n", slot.name(), slot.name(), slot.description()));
    }
    for slot in SlotId::ALL {
        for target in slot.targets() {
            out.push_str(&format!("  {} -> {};\n", slot.name(), target.name()));
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_has_a_unique_name_and_round_trips() {
        let mut names: Vec<_> = SlotId::ALL.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SlotId::ALL.len());
        for slot in SlotId::ALL {
            assert_eq!(SlotId::from_name(slot.name()), Some(*slot));
        }
    }

    #[test]
    fn outgoing_routes_to_declared_target() {
        let (tx, _rx) = oneshot::channel();
        let out: SyncOutgoing = ChainStoreMessage::BestBlock { reply: tx }.into();
        let all: AllMessages = out.into();
        assert_eq!(all.slot(), SlotId::ChainStore);
        assert!(SlotId::Sync.targets().contains(&SlotId::ChainStore));
    }

    #[test]
    fn dot_names_every_slot() {
        let dot = topology_dot();
        for slot in SlotId::ALL {
            assert!(dot.contains(&format!("  {} [label", slot.name())));
        }
        assert!(dot.contains("sync -> chain_store;"));
    }
}
