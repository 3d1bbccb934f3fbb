//! `segur serve`'s allocator setting, [`keep_large_blocks_out_of_the_heap`], in a process of its own (the setting
//! is process-wide, and the counters read here would move with other tests' allocations).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn large_blocks_are_mapped_once_the_threshold_is_fixed() {
    use segur_gateway::finess::load::{MMAP_THRESHOLD, keep_large_blocks_out_of_the_heap};

    /// Bytes in blocks glibc mapped on their own.
    fn mapped() -> usize {
        // SAFETY: `mallinfo2` only reads the allocator's counters.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallinfo2().hblkhd
        }
    }
    let size = 2 * MMAP_THRESHOLD;

    keep_large_blocks_out_of_the_heap();
    // With glibc's default, a mapped block of 24 MiB, once freed, raises the threshold to 24 MiB, and the next
    // block of 8 MiB comes from a heap (this test fails without the setting).
    drop(std::hint::black_box(vec![1u8; 24 << 20]));
    let before = mapped();
    let block = std::hint::black_box(vec![1u8; size]);
    assert!(mapped() >= before + size, "mapped on its own");
    drop(block);
}
