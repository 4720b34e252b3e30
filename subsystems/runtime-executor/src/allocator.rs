//! The freeing-bump heap allocator behind `ext_allocator_malloc_version_1` and
//! `ext_allocator_free_version_1`, reproducing Substrate's `sc-allocator` exactly.
//!
//! The addresses this allocator hands out are visible to the runtime (they end
//! up in hashes, storage and return values), so every rule below matters for
//! consensus and must match the reference node bit for bit:
//!
//! * The heap starts at `__heap_base` rounded up to a multiple of 8.
//! * A request is rounded up to a power of two of at least 8 bytes; its *order*
//!   is `log2(size) - 3`. On-chain calls allow orders 0..=22 (8 B to 32 MiB),
//!   offchain calls orders 0..=28 (up to 2 GiB).
//! * Every block is preceded by an 8-byte little-endian header. An occupied
//!   block's header is `(1 << 32) | order`; a free block's header holds the
//!   address of the next free header of the same order in its low 32 bits
//!   (`u32::MAX` ends the list) and 0 in its high bits.
//! * `malloc` pops the head of its order's free list, or else bumps: the new
//!   header is placed at the bumper, which then advances by `size + 8`. Blocks
//!   are never split or coalesced.
//! * `free` pushes the block on the head of its order's free list.
//! * When the bumper would pass the end of memory, the memory grows to twice
//!   its pages (at least to what is needed) within its maximum; with Substrate's
//!   static heap (memory maximum = its size) that is always an out-of-space error.
//! * Any error poisons the allocator: every later `malloc` or `free` fails.
//!
//! The allocator works on the [`HeapMemory`] trait so it can be tested without a
//! Wasm engine.

/// Size of a Wasm page in bytes.
pub const PAGE_SIZE: u32 = 65536;

/// Largest number of Wasm pages a 32-bit memory can have (4 GiB).
pub const MAX_WASM_PAGES: u32 = 65536;

/// Largest single allocation of an on-chain call (Substrate's `MAX_POSSIBLE_ALLOCATION`, 32 MiB).
pub const MAX_POSSIBLE_ALLOCATION: u32 = 32 * 1024 * 1024;

/// Largest single allocation of an offchain call (`MAX_POSSIBLE_ALLOCATION_OFFCHAIN`, 2 GiB).
pub const MAX_POSSIBLE_ALLOCATION_OFFCHAIN: u32 = 2 * 1024 * 1024 * 1024;

/// Size of the header before every block.
pub const HEADER_SIZE: u32 = 8;

/// Alignment of the heap start and of every returned pointer.
const ALIGNMENT: u32 = 8;

/// Smallest block size (order 0).
const MIN_POSSIBLE_ALLOCATION: u32 = 8;

/// Orders 0..23 cover 8 B ..= 32 MiB.
const N_ORDERS_ONCHAIN: u32 = 23;

/// Orders 0..29 cover 8 B ..= 2 GiB.
const N_ORDERS_OFFCHAIN: u32 = 29;

/// Free-list link value meaning "no next block".
const NIL_MARKER: u32 = u32::MAX;

/// Bit set in the header of an occupied block.
const OCCUPIED_FLAG: u64 = 1 << 32;

/// Errors of the allocator. Once any of them has been returned the allocator is
/// poisoned and returns [`AllocatorError::Poisoned`] from then on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocatorError {
    #[error("the allocator has been poisoned by an earlier error")]
    Poisoned,
    #[error("requested allocation of {size} bytes is larger than the maximum of {max} bytes")]
    RequestedAllocationTooLarge { size: u32, max: u32 },
    #[error("allocator ran out of space: the heap cannot hold another {needed} bytes")]
    OutOfSpace { needed: u32 },
    #[error("memory shrank from {before} to {now} bytes")]
    MemoryShrank { before: u64, now: u64 },
    #[error("header access at {ptr:#x} is outside the memory")]
    OutOfBounds { ptr: u32 },
    #[error("invalid header pointer {ptr:#x} in the free list of order {order}")]
    InvalidHeaderPointer { ptr: u32, order: u32 },
    #[error("free list of order {order} points to an occupied block at {ptr:#x}")]
    FreeListPointsToOccupied { ptr: u32, order: u32 },
    #[error("invalid pointer {ptr:#x} for deallocation")]
    InvalidPointer { ptr: u32 },
    #[error("pointer {ptr:#x} does not point to an allocated block (its header is free)")]
    NotAllocated { ptr: u32 },
    #[error("invalid order {order} in the header at {ptr:#x}")]
    InvalidOrder { order: u32, ptr: u32 },
    #[error("freeing the block at {ptr:#x} would underflow the count of allocated bytes")]
    AllocatedBytesUnderflow { ptr: u32 },
}

/// The linear memory the allocator manages.
///
/// Offsets are byte addresses in the memory. Implementations must bounds-check
/// every access and report failures as errors (never panic).
pub trait HeapMemory {
    /// Reads the little-endian `u64` at `offset`, or `None` if out of bounds.
    fn read_u64(&self, offset: u32) -> Option<u64>;
    /// Writes a little-endian `u64` at `offset`; `false` if out of bounds.
    fn write_u64(&mut self, offset: u32, value: u64) -> bool;
    /// Current size in bytes (a multiple of [`PAGE_SIZE`]).
    fn size(&self) -> u64;
    /// Pages the memory may grow to; `None` means the Wasm maximum.
    fn max_pages(&self) -> Option<u32> {
        None
    }
    /// Grows the memory by `additional` pages; `false` if it cannot.
    fn grow(&mut self, additional: u32) -> bool {
        let _ = additional;
        false
    }
}

/// A plain byte vector as heap memory, for tests and tools.
#[derive(Debug, Clone)]
pub struct VecMemory {
    data: Vec<u8>,
    max_pages: Option<u32>,
}

impl VecMemory {
    /// A zeroed memory of `pages` pages that may grow up to `max_pages`.
    pub fn new(pages: u32, max_pages: Option<u32>) -> Self {
        VecMemory { data: vec![0; pages as usize * PAGE_SIZE as usize], max_pages }
    }

    /// The memory contents.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The memory contents, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Drops trailing pages, so tests can check that a shrinking memory is refused.
    pub fn truncate_pages(&mut self, pages: u32) {
        self.data.truncate(pages as usize * PAGE_SIZE as usize);
    }

    fn range(&self, offset: u32) -> Option<std::ops::Range<usize>> {
        let start = offset as usize;
        let end = start.checked_add(8)?;
        (end <= self.data.len()).then_some(start..end)
    }
}

impl HeapMemory for VecMemory {
    fn read_u64(&self, offset: u32) -> Option<u64> {
        let range = self.range(offset)?;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.data[range]);
        Some(u64::from_le_bytes(bytes))
    }

    fn write_u64(&mut self, offset: u32, value: u64) -> bool {
        match self.range(offset) {
            Some(range) => {
                self.data[range].copy_from_slice(&value.to_le_bytes());
                true
            }
            None => false,
        }
    }

    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn max_pages(&self) -> Option<u32> {
        self.max_pages
    }

    fn grow(&mut self, additional: u32) -> bool {
        let pages = self.data.len() as u64 / u64::from(PAGE_SIZE);
        let new_pages = pages + u64::from(additional);
        if new_pages > u64::from(self.max_pages.unwrap_or(MAX_WASM_PAGES)) {
            return false;
        }
        self.data.resize(new_pages as usize * PAGE_SIZE as usize, 0);
        true
    }
}

/// Whether a call runs on-chain (block execution, 32 MiB allocation limit) or
/// offchain (offchain workers and RPC-only calls, 2 GiB limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallContext {
    #[default]
    Onchain,
    Offchain,
}

/// Counters kept while the allocator lives (they do not affect addresses,
/// except that freeing more than was allocated is an error).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocationStats {
    /// Bytes (block sizes plus headers) allocated right now.
    pub bytes_allocated: u32,
    /// Largest value `bytes_allocated` reached.
    pub bytes_allocated_peak: u32,
    /// Bytes allocated over the allocator's life.
    pub bytes_allocated_sum: u128,
    /// Bytes between the heap start and the bumper.
    pub address_space_used: u32,
}

/// Substrate's freeing-bump allocator. See the module documentation for the rules.
#[derive(Debug, Clone)]
pub struct FreeingBumpAllocator {
    original_heap_base: u32,
    bumper: u32,
    /// Head of the free list of each order (header addresses), `NIL_MARKER` if empty.
    free_lists: [u32; N_ORDERS_OFFCHAIN as usize],
    max_orders: u32,
    max_allocation: u32,
    poisoned: bool,
    last_observed_memory_size: u64,
    stats: AllocationStats,
}

impl FreeingBumpAllocator {
    /// An allocator for an on-chain call whose heap starts at `heap_base`
    /// (the runtime's `__heap_base` global).
    pub fn new(heap_base: u32) -> Self {
        Self::with_context(heap_base, CallContext::Onchain)
    }

    /// An allocator for the given call context.
    pub fn with_context(heap_base: u32, context: CallContext) -> Self {
        // Computed in u64: a heap base within 7 bytes of 4 GiB cannot overflow.
        let aligned = (u64::from(heap_base).div_ceil(u64::from(ALIGNMENT)) * u64::from(ALIGNMENT))
            .min(u64::from(u32::MAX)) as u32;
        let (max_orders, max_allocation) = match context {
            CallContext::Onchain => (N_ORDERS_ONCHAIN, MAX_POSSIBLE_ALLOCATION),
            CallContext::Offchain => (N_ORDERS_OFFCHAIN, MAX_POSSIBLE_ALLOCATION_OFFCHAIN),
        };
        FreeingBumpAllocator {
            original_heap_base: aligned,
            bumper: aligned,
            free_lists: [NIL_MARKER; N_ORDERS_OFFCHAIN as usize],
            max_orders,
            max_allocation,
            poisoned: false,
            last_observed_memory_size: 0,
            stats: AllocationStats::default(),
        }
    }

    /// Largest request this allocator accepts.
    pub fn max_allocation(&self) -> u32 {
        self.max_allocation
    }

    /// True once an error has been returned.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Address of the next header the bump part would hand out.
    pub fn bumper(&self) -> u32 {
        self.bumper
    }

    /// Head of the free list of `order` (a header address), if any.
    pub fn free_list_head(&self, order: u32) -> Option<u32> {
        self.free_lists.get(order as usize).copied().filter(|&head| head != NIL_MARKER)
    }

    /// The allocation counters.
    pub fn stats(&self) -> &AllocationStats {
        &self.stats
    }

    /// Allocates `size` bytes and returns the address of the block (just after its header).
    pub fn allocate(&mut self, mem: &mut impl HeapMemory, size: u32) -> Result<u32, AllocatorError> {
        if self.poisoned {
            return Err(AllocatorError::Poisoned);
        }
        let result = self.allocate_inner(mem, size);
        self.poisoned = result.is_err();
        result
    }

    /// Frees the block at `ptr` (an address returned by [`Self::allocate`]).
    pub fn deallocate(&mut self, mem: &mut impl HeapMemory, ptr: u32) -> Result<(), AllocatorError> {
        if self.poisoned {
            return Err(AllocatorError::Poisoned);
        }
        let result = self.deallocate_inner(mem, ptr);
        self.poisoned = result.is_err();
        result
    }

    fn allocate_inner(&mut self, mem: &mut impl HeapMemory, size: u32) -> Result<u32, AllocatorError> {
        self.observe_memory_size(mem)?;
        let order = self.order_from_size(size)?;
        let block_size = order_size(order);
        let head = self.free_lists[order as usize];
        let header_ptr = if head != NIL_MARKER {
            if u64::from(head) + u64::from(block_size) + u64::from(HEADER_SIZE) > mem.size() {
                return Err(AllocatorError::InvalidHeaderPointer { ptr: head, order });
            }
            match self.read_header(mem, head)? {
                Header::Free(next) => self.free_lists[order as usize] = next,
                Header::Occupied(_) => return Err(AllocatorError::FreeListPointsToOccupied { ptr: head, order }),
            }
            head
        } else {
            self.bump(mem, block_size + HEADER_SIZE)?
        };
        write_header(mem, header_ptr, Header::Occupied(order))?;

        let total = block_size + HEADER_SIZE;
        self.stats.bytes_allocated = self.stats.bytes_allocated.saturating_add(total);
        self.stats.bytes_allocated_sum += u128::from(total);
        self.stats.bytes_allocated_peak = self.stats.bytes_allocated_peak.max(self.stats.bytes_allocated);
        self.stats.address_space_used = self.bumper - self.original_heap_base;
        // Cannot overflow: the header lies inside a memory of at most 4 GiB and the block follows it.
        Ok(header_ptr + HEADER_SIZE)
    }

    fn deallocate_inner(&mut self, mem: &mut impl HeapMemory, ptr: u32) -> Result<(), AllocatorError> {
        self.observe_memory_size(mem)?;
        let header_ptr = ptr.checked_sub(HEADER_SIZE).ok_or(AllocatorError::InvalidPointer { ptr })?;
        let order = match self.read_header(mem, header_ptr)? {
            Header::Occupied(order) => order,
            Header::Free(_) => return Err(AllocatorError::NotAllocated { ptr }),
        };
        let previous_head = std::mem::replace(&mut self.free_lists[order as usize], header_ptr);
        write_header(mem, header_ptr, Header::Free(previous_head))?;
        self.stats.bytes_allocated = self
            .stats
            .bytes_allocated
            .checked_sub(order_size(order) + HEADER_SIZE)
            .ok_or(AllocatorError::AllocatedBytesUnderflow { ptr })?;
        Ok(())
    }

    fn order_from_size(&self, size: u32) -> Result<u32, AllocatorError> {
        if size > self.max_allocation {
            return Err(AllocatorError::RequestedAllocationTooLarge { size, max: self.max_allocation });
        }
        let clamped = size.max(MIN_POSSIBLE_ALLOCATION);
        // `max_allocation` is a power of two no larger than 2^31, so this cannot overflow.
        let power_of_two = clamped.next_power_of_two();
        Ok(power_of_two.trailing_zeros() - MIN_POSSIBLE_ALLOCATION.trailing_zeros())
    }

    fn read_header(&self, mem: &impl HeapMemory, header_ptr: u32) -> Result<Header, AllocatorError> {
        let raw = mem.read_u64(header_ptr).ok_or(AllocatorError::OutOfBounds { ptr: header_ptr })?;
        let data = raw as u32;
        if raw & OCCUPIED_FLAG != 0 {
            if data >= self.max_orders {
                return Err(AllocatorError::InvalidOrder { order: data, ptr: header_ptr });
            }
            Ok(Header::Occupied(data))
        } else {
            Ok(Header::Free(data))
        }
    }

    /// Advances the bumper by `size` and returns its previous value, growing the
    /// memory (doubling, within its maximum) if the block would pass its end.
    fn bump(&mut self, mem: &mut impl HeapMemory, size: u32) -> Result<u32, AllocatorError> {
        let required = u64::from(self.bumper) + u64::from(size);
        if required > mem.size() {
            let out_of_space = AllocatorError::OutOfSpace { needed: size };
            let required_pages =
                u32::try_from(required.div_ceil(u64::from(PAGE_SIZE))).map_err(|_| out_of_space.clone())?;
            let current_pages = u32::try_from(mem.size() / u64::from(PAGE_SIZE)).map_err(|_| out_of_space.clone())?;
            let max_pages = mem.max_pages().unwrap_or(MAX_WASM_PAGES).min(MAX_WASM_PAGES);
            if current_pages >= max_pages || required_pages > max_pages {
                return Err(out_of_space);
            }
            let next_pages = current_pages.saturating_mul(2).min(max_pages).max(required_pages);
            if !mem.grow(next_pages - current_pages) || mem.size() < required {
                return Err(out_of_space);
            }
            self.last_observed_memory_size = mem.size();
        }
        let previous = self.bumper;
        // `required` is at most the memory size, itself at most 4 GiB; only an exactly
        // full 4 GiB memory reaches 2^32, which no later block could use anyway.
        self.bumper = u32::try_from(required).map_err(|_| AllocatorError::OutOfSpace { needed: size })?;
        Ok(previous)
    }

    fn observe_memory_size(&mut self, mem: &impl HeapMemory) -> Result<(), AllocatorError> {
        let now = mem.size();
        if now < self.last_observed_memory_size {
            return Err(AllocatorError::MemoryShrank { before: self.last_observed_memory_size, now });
        }
        self.last_observed_memory_size = now;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    /// Free block: link to the next free header of its order (`NIL_MARKER` ends the list).
    Free(u32),
    /// Occupied block of the given order.
    Occupied(u32),
}

fn write_header(mem: &mut impl HeapMemory, header_ptr: u32, header: Header) -> Result<(), AllocatorError> {
    let raw = match header {
        Header::Free(link) => u64::from(link),
        Header::Occupied(order) => OCCUPIED_FLAG | u64::from(order),
    };
    if mem.write_u64(header_ptr, raw) {
        Ok(())
    } else {
        Err(AllocatorError::OutOfBounds { ptr: header_ptr })
    }
}

fn order_size(order: u32) -> u32 {
    MIN_POSSIBLE_ALLOCATION << order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(pages: u32) -> VecMemory {
        VecMemory::new(pages, None)
    }

    fn fixed(pages: u32) -> VecMemory {
        VecMemory::new(pages, Some(pages))
    }

    #[test]
    fn first_allocation_follows_its_header() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        assert_eq!(heap.allocate(&mut m, 1).unwrap(), 8);
        // Occupied header of order 0 at address 0.
        assert_eq!(m.read_u64(0), Some(1 << 32));
    }

    #[test]
    fn heap_base_is_aligned_to_8() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(13);
        assert_eq!(heap.allocate(&mut m, 1).unwrap(), 24);
    }

    #[test]
    fn pointers_increment_by_rounded_size_and_header() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        assert_eq!(heap.allocate(&mut m, 1).unwrap(), 8);
        assert_eq!(heap.allocate(&mut m, 9).unwrap(), 24);
        assert_eq!(heap.allocate(&mut m, 1).unwrap(), 24 + 16 + 8);
        // The 9-byte request took order 1 (16 bytes).
        assert_eq!(m.read_u64(16), Some((1 << 32) | 1));
    }

    #[test]
    fn free_pushes_on_the_order_list() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        let p1 = heap.allocate(&mut m, 1).unwrap();
        let p2 = heap.allocate(&mut m, 1).unwrap();
        assert_eq!((p1, p2), (8, 24));
        heap.deallocate(&mut m, p2).unwrap();
        assert_eq!(heap.free_list_head(0), Some(p2 - HEADER_SIZE));
        // The freed header holds the old (empty) head: the nil marker, high bits clear.
        assert_eq!(m.read_u64(p2 - HEADER_SIZE), Some(u64::from(u32::MAX)));
    }

    #[test]
    fn freed_block_is_reused_by_the_same_order() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(13);
        assert_eq!(heap.allocate(&mut m, 1).unwrap(), 16 + 8);
        let p2 = heap.allocate(&mut m, 9).unwrap();
        assert_eq!(p2, 16 + 16 + 8);
        heap.deallocate(&mut m, p2).unwrap();
        assert_eq!(heap.allocate(&mut m, 9).unwrap(), p2);
        assert!((0..N_ORDERS_OFFCHAIN).all(|o| heap.free_list_head(o).is_none()));
        // A different order does not reuse it.
        heap.deallocate(&mut m, p2).unwrap();
        assert_eq!(heap.allocate(&mut m, 17).unwrap(), 16 + 16 + 8 + 16 + 8);
    }

    #[test]
    fn free_list_is_lifo() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        let p: Vec<u32> = (0..3).map(|_| heap.allocate(&mut m, 8).unwrap()).collect();
        for &ptr in &p {
            heap.deallocate(&mut m, ptr).unwrap();
        }
        assert_eq!(heap.free_list_head(0), Some(p[2] - HEADER_SIZE));
        assert_eq!(heap.allocate(&mut m, 8).unwrap(), p[2]);
        assert_eq!(heap.free_list_head(0), Some(p[1] - HEADER_SIZE));
    }

    #[test]
    fn reallocating_after_reverse_free_gives_the_same_pointers() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        let ptrs: Vec<u32> = (0..4).map(|_| heap.allocate(&mut m, 8).unwrap()).collect();
        for &ptr in ptrs.iter().rev() {
            heap.deallocate(&mut m, ptr).unwrap();
        }
        let again: Vec<u32> = (0..4).map(|_| heap.allocate(&mut m, 8).unwrap()).collect();
        assert_eq!(ptrs, again);
    }

    #[test]
    fn out_of_space_in_a_fixed_memory() {
        let mut m = fixed(1);
        let mut heap = FreeingBumpAllocator::new(13);
        assert_eq!(heap.allocate(&mut m, PAGE_SIZE - 13), Err(AllocatorError::OutOfSpace { needed: PAGE_SIZE + 8 }));

        let mut m = fixed(1);
        let mut heap = FreeingBumpAllocator::new(0);
        assert_eq!(heap.allocate(&mut m, PAGE_SIZE / 2 - HEADER_SIZE).unwrap(), HEADER_SIZE);
        assert!(matches!(heap.allocate(&mut m, PAGE_SIZE / 2), Err(AllocatorError::OutOfSpace { .. })));
    }

    #[test]
    fn maximum_allocation_is_allowed_and_one_more_byte_is_not() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        assert_eq!(heap.allocate(&mut m, MAX_POSSIBLE_ALLOCATION).unwrap(), HEADER_SIZE);
        // Memory grew to hold 32 MiB + 8 bytes: 513 pages, doubling from 1 gives 2, so 513.
        assert_eq!(m.size(), 513 * u64::from(PAGE_SIZE));

        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        assert_eq!(
            heap.allocate(&mut m, MAX_POSSIBLE_ALLOCATION + 1),
            Err(AllocatorError::RequestedAllocationTooLarge {
                size: MAX_POSSIBLE_ALLOCATION + 1,
                max: MAX_POSSIBLE_ALLOCATION
            })
        );
        // Too large a request poisons too.
        assert_eq!(heap.allocate(&mut m, 1), Err(AllocatorError::Poisoned));
    }

    #[test]
    fn offchain_context_allows_larger_orders() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::with_context(0, CallContext::Offchain);
        assert_eq!(heap.max_allocation(), MAX_POSSIBLE_ALLOCATION_OFFCHAIN);
        assert_eq!(heap.allocate(&mut m, 64 * 1024 * 1024).unwrap(), HEADER_SIZE);
    }

    #[test]
    fn bumper_reaching_the_end_fails() {
        let mut m = fixed(1);
        let mut heap = FreeingBumpAllocator::new(0);
        let ptrs: Vec<u32> = (0..PAGE_SIZE / 40).map(|_| heap.allocate(&mut m, 32).unwrap()).collect();
        assert_eq!(heap.stats().bytes_allocated, PAGE_SIZE - 16);
        assert_eq!(heap.bumper(), PAGE_SIZE - 16);
        for ptr in ptrs {
            heap.deallocate(&mut m, ptr).unwrap();
        }
        assert_eq!(heap.stats().bytes_allocated, 0);
        assert_eq!(heap.stats().bytes_allocated_peak, PAGE_SIZE - 16);
        heap.allocate(&mut m, 8).unwrap();
        assert_eq!(u64::from(heap.bumper()), m.size());
        assert!(matches!(heap.allocate(&mut m, 8), Err(AllocatorError::OutOfSpace { .. })));
    }

    #[test]
    fn stats_count_headers() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(1);
        heap.allocate(&mut m, 9).unwrap();
        assert_eq!(heap.stats().bytes_allocated, HEADER_SIZE + 16);
        let mut heap = FreeingBumpAllocator::new(19);
        for _ in 1..10 {
            let p = heap.allocate(&mut m, 42).unwrap();
            heap.deallocate(&mut m, p).unwrap();
        }
        assert_eq!(heap.stats().bytes_allocated, 0);
    }

    #[test]
    fn out_of_space_poisons() {
        let mut m = fixed(1);
        let mut heap = FreeingBumpAllocator::new(0);
        let p = heap.allocate(&mut m, PAGE_SIZE / 2).unwrap();
        assert!(matches!(heap.allocate(&mut m, PAGE_SIZE), Err(AllocatorError::OutOfSpace { .. })));
        assert!(heap.is_poisoned());
        assert_eq!(heap.deallocate(&mut m, p), Err(AllocatorError::Poisoned));
    }

    #[test]
    fn memory_may_grow_but_not_shrink() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        heap.allocate(&mut m, PAGE_SIZE / 2).unwrap();
        heap.allocate(&mut m, PAGE_SIZE / 2).unwrap();
        assert!(m.grow(1));
        heap.allocate(&mut m, PAGE_SIZE / 2).unwrap();

        let mut m = mem(2);
        let mut heap = FreeingBumpAllocator::new(0);
        heap.allocate(&mut m, PAGE_SIZE / 2).unwrap();
        m.truncate_pages(1);
        assert!(matches!(heap.allocate(&mut m, PAGE_SIZE / 2), Err(AllocatorError::MemoryShrank { .. })));
    }

    #[test]
    fn grows_memory_when_it_may() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        heap.allocate(&mut m, PAGE_SIZE * 2).unwrap();
        assert_eq!(m.size(), 3 * u64::from(PAGE_SIZE));
    }

    #[test]
    fn corrupted_free_list_is_detected() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        let p = heap.allocate(&mut m, 5).unwrap();
        heap.deallocate(&mut m, p).unwrap();
        // The runtime overwrites the free header's link.
        assert!(m.write_u64(p - HEADER_SIZE, u64::from(u32::MAX - 1)));
        assert_eq!(heap.allocate(&mut m, 5).unwrap(), p);
        assert_eq!(heap.allocate(&mut m, 5), Err(AllocatorError::InvalidHeaderPointer { ptr: u32::MAX - 1, order: 0 }));
        assert!(heap.is_poisoned());
    }

    #[test]
    fn double_free_poisons() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        let p = heap.allocate(&mut m, 8).unwrap();
        heap.deallocate(&mut m, p).unwrap();
        assert_eq!(heap.deallocate(&mut m, p), Err(AllocatorError::NotAllocated { ptr: p }));
        assert_eq!(heap.allocate(&mut m, 8), Err(AllocatorError::Poisoned));
    }

    #[test]
    fn bad_pointers_poison() {
        for ptr in [0u32, 4, u32::MAX, PAGE_SIZE] {
            let mut m = mem(1);
            let mut heap = FreeingBumpAllocator::new(0);
            heap.allocate(&mut m, 8).unwrap();
            assert!(heap.deallocate(&mut m, ptr).is_err(), "freeing {ptr:#x}");
            assert!(heap.is_poisoned());
            assert_eq!(heap.allocate(&mut m, 8), Err(AllocatorError::Poisoned));
        }
    }

    #[test]
    fn forged_header_with_bad_order_or_unallocated_bytes_is_rejected() {
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        heap.allocate(&mut m, 8).unwrap();
        assert!(m.write_u64(1000, OCCUPIED_FLAG | 23));
        assert_eq!(heap.deallocate(&mut m, 1008), Err(AllocatorError::InvalidOrder { order: 23, ptr: 1000 }));

        // A forged occupied header of a larger block than was ever allocated.
        let mut m = mem(1);
        let mut heap = FreeingBumpAllocator::new(0);
        heap.allocate(&mut m, 8).unwrap();
        assert!(m.write_u64(1000, OCCUPIED_FLAG | 5));
        assert_eq!(heap.deallocate(&mut m, 1008), Err(AllocatorError::AllocatedBytesUnderflow { ptr: 1008 }));
    }

    #[test]
    fn order_boundaries() {
        let heap = FreeingBumpAllocator::new(0);
        assert_eq!(heap.order_from_size(0), Ok(0));
        assert_eq!(heap.order_from_size(8), Ok(0));
        assert_eq!(heap.order_from_size(9), Ok(1));
        assert_eq!(heap.order_from_size(MAX_POSSIBLE_ALLOCATION), Ok(22));
        assert_eq!(order_size(22), MAX_POSSIBLE_ALLOCATION);
        assert_eq!(order_size(28), MAX_POSSIBLE_ALLOCATION_OFFCHAIN);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Random malloc/free sequences never hand out overlapping live blocks, every
        /// block lies inside the memory, and every pointer is 8-aligned.
        #[test]
        fn live_blocks_never_overlap(
            heap_base in 0u32..4096,
            ops in proptest::collection::vec((proptest::prelude::any::<bool>(), 0u32..5000, proptest::prelude::any::<u16>()), 1..300),
        ) {
            let mut m = VecMemory::new(4, Some(8));
            let mut heap = FreeingBumpAllocator::new(heap_base);
            let mut live: Vec<(u32, u32)> = Vec::new(); // (ptr, rounded size)
            for (is_alloc, size, pick) in ops {
                if is_alloc || live.is_empty() {
                    match heap.allocate(&mut m, size) {
                        Ok(ptr) => {
                            let rounded = size.max(8).next_power_of_two();
                            proptest::prop_assert_eq!(ptr % 8, 0);
                            proptest::prop_assert!(ptr >= heap_base + HEADER_SIZE);
                            proptest::prop_assert!(u64::from(ptr) + u64::from(rounded) <= m.size());
                            let (start, end) = (ptr - HEADER_SIZE, ptr + rounded);
                            for &(other, other_size) in &live {
                                let (os, oe) = (other - HEADER_SIZE, other + other_size);
                                proptest::prop_assert!(end <= os || oe <= start, "{:?} overlaps {:?}", (start, end), (os, oe));
                            }
                            // Scribble over the block: it must not disturb any other block's header.
                            for offset in (0..rounded).step_by(8) {
                                m.write_u64(ptr + offset, 0xdead_beef_dead_beef);
                            }
                            live.push((ptr, rounded));
                        }
                        Err(AllocatorError::OutOfSpace { .. }) => break,
                        Err(e) => proptest::prop_assert!(false, "unexpected error {e}"),
                    }
                } else {
                    let (ptr, _) = live.swap_remove(usize::from(pick) % live.len());
                    proptest::prop_assert_eq!(heap.deallocate(&mut m, ptr), Ok(()));
                }
            }
        }
    }
}
