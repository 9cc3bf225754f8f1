//! Keeping freed tensor memory in the process instead of returning it to the kernel.
//!
//! Every op returns a new tensor, so a training step allocates and frees
//! hundreds of megabytes in multi-megabyte blocks. glibc serves blocks above
//! its mmap threshold with fresh pages from the kernel and unmaps them on
//! free; each page is then faulted in again on the next step, and each
//! unmap interrupts the other cores to flush their TLBs. Raising the mmap and
//! trim thresholds makes freed blocks reusable by the next step. Trimming is
//! switched off altogether (-1): fastcnn at batch 1,024 frees over 2 GB at
//! the end of a step, and with any threshold below that glibc gave the top
//! of the heap back to the kernel every step and faulted it in again (with
//! 1 GiB, 2.2 million page faults in a 70-second benchmark instead of 0.8
//! million; with 2 GiB, 140,000 a second in a training run).
//!
//! Worker threads get arenas of their own, built from 64 MiB heaps that
//! glibc unmaps as soon as one is empty, whatever the thresholds say; a
//! ResNet-20 step spent a third of its time in those page faults. Our
//! allocations are few and large (one per tensor or per work chunk), so one
//! shared arena costs no measurable lock contention and keeps the memory.

// ANCHOR: tune
/// Tunes the allocator for tensor workloads (glibc on Linux; a no-op elsewhere).
/// Call once at program start, before threads are spawned.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1); // never give the heap back
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
// ANCHOR_END: tune
