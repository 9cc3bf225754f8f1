//! Where the time goes, per op: wall time of every op's forward, backward and inference pass, on demand.
//!
//! It watches the engine from outside, as an [`crate::autograd::OpObserver`]
//! installed the first time profiling is switched on; switched off, it costs
//! one relaxed atomic load per op. When on, each
//! op's forward time is the time since the previous op finished on this
//! thread (ops run one after another on the calling thread; their inner
//! loops use rayon), and each backward time is the time its backward
//! function took, plus the additions of gradients that meet at a tensor
//! (reported as `add (gradient sum)`). `cnnlab bench --profile` prints the totals.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ENABLED: AtomicBool = AtomicBool::new(false);
/// (op, phase) → (total time, calls).
type Totals = HashMap<(&'static str, Phase), (Duration, usize)>;

static TOTALS: Mutex<Option<Totals>> = Mutex::new(None);

thread_local! {
    static LAST_OP_END: Cell<Option<Instant>> = const { Cell::new(None) };
    static IN_BACKWARD: Cell<bool> = const { Cell::new(false) };
}

/// Forward (computing an op's output) or backward (its vector–Jacobian product).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// The op's output.
    Forward,
    /// The op's backward function.
    Backward,
    /// The optimizer's parameter update.
    Update,
    /// An op's output computed without a graph (inside `no_grad`), as in inference.
    Inference,
}

/// Total time and number of calls of one op in one phase.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The op's name, as in `Tensor::op_name`.
    pub op: &'static str,
    /// Forward or backward.
    pub phase: Phase,
    /// Wall time summed over calls.
    pub time: Duration,
    /// Number of calls.
    pub calls: usize,
}

/// The observer the engine reports its ops to.
struct Profiler;

impl crate::autograd::OpObserver for Profiler {
    fn forward_done(&self, op: &'static str) {
        forward_done(op);
    }

    fn backward_step(&self, op: &'static str, work: &mut dyn FnMut()) {
        let started = enabled().then(Instant::now);
        work();
        if let Some(started) = started {
            add(op, Phase::Backward, started.elapsed());
        }
    }

    fn backward_pass(&self, work: &mut dyn FnMut()) {
        in_backward(work);
    }
}

/// Switches profiling on (clearing earlier totals) or off.
pub fn enable(on: bool) {
    if on {
        crate::autograd::set_observer(&Profiler);
    }
    *TOTALS.lock().expect("profile lock") = on.then(HashMap::new);
    LAST_OP_END.with(|t| t.set(None));
    ENABLED.store(on, Ordering::Relaxed);
}

/// True while profiling.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Starts the clock for the next op's forward time (call before a forward
/// pass, so that time spent between passes is not charged to its first op).
pub fn mark() {
    if enabled() {
        LAST_OP_END.with(|t| t.set(Some(Instant::now())));
    }
}

/// Runs a backward pass: ops called inside backward functions are part of
/// those functions' time, not forward passes of their own.
fn in_backward<R>(f: impl FnOnce() -> R) -> R {
    if !enabled() {
        return f();
    }
    let outer = IN_BACKWARD.with(|b| b.replace(true));
    let result = f();
    IN_BACKWARD.with(|b| b.set(outer));
    LAST_OP_END.with(|t| t.set(None));
    result
}

/// Charges `op`'s forward pass (or, without a graph, its inference pass)
/// with the time since the previous op ended.
fn forward_done(op: &'static str) {
    if !enabled() || IN_BACKWARD.with(|b| b.get()) {
        return;
    }
    let now = Instant::now();
    if let Some(start) = LAST_OP_END.with(|t| t.replace(Some(now))) {
        let phase = if crate::autograd::is_grad_enabled() { Phase::Forward } else { Phase::Inference };
        add(op, phase, now - start);
    }
}

/// Adds one call of `op` in `phase` that took `time`.
pub fn add(op: &'static str, phase: Phase, time: Duration) {
    if let Some(totals) = TOTALS.lock().expect("profile lock").as_mut() {
        let entry = totals.entry((op, phase)).or_default();
        entry.0 += time;
        entry.1 += 1;
    }
}

/// The totals so far, slowest first.
pub fn entries() -> Vec<Entry> {
    let totals = TOTALS.lock().expect("profile lock");
    let mut entries: Vec<Entry> =
        totals.iter().flatten().map(|(&(op, phase), &(time, calls))| Entry { op, phase, time, calls }).collect();
    entries.sort_by(|a, b| b.time.cmp(&a.time).then(a.op.cmp(b.op)));
    entries
}
