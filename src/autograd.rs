//! Reverse-mode automatic differentiation: the graph, `backward()`, the gradient store and no-grad mode.
//!
//! Every op that produces a tensor from inputs that require gradients records
//! a [`Node`]: the op's name, its inputs, and a *backward function* that maps
//! the gradient of the output, ∂L/∂y, to the gradients of the inputs,
//! ∂L/∂xᵢ = (∂y/∂xᵢ)ᵀ ∂L/∂y (the chain rule, one vector–Jacobian product per op).
//! [`Tensor::backward`] walks the graph from the output back to the leaves in
//! reverse topological order and returns a [`Gradients`] store that can be
//! queried with *any* tensor of the graph: parameters, inner feature maps
//! (Grad-CAM) or the input image (input synthesis).

// ANCHOR: node
use crate::tensor::{Element, Tensor, TensorId};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

/// A backward function: given ∂L/∂y, return ∂L/∂xᵢ for each input, in order
/// (`None` where an input needs no gradient).
pub type BackwardFn<E> = Box<dyn Fn(&Tensor<E>) -> Vec<Option<Tensor<E>>> + Send + Sync>;

/// How a tensor was made: the op, its inputs, and the op's backward function.
pub struct Node<E: Element> {
    pub(crate) op: &'static str,
    /// The inputs; `None` for an input that does not require gradients.
    pub(crate) parents: Vec<Option<Tensor<E>>>,
    /// `None` for a leaf (a parameter or an input marked `with_grad`).
    pub(crate) backward: Option<BackwardFn<E>>,
}
// ANCHOR_END: node

impl<E: Element> Node<E> {
    pub(crate) fn leaf() -> Self {
        Node { op: "leaf", parents: vec![], backward: None }
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside [`no_grad`].
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` without recording a graph: ops return constants, no inputs are
/// kept alive, so inference and explanation loops hold no extra memory.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(false, f)
}

/// Runs `f` with recording switched on or off, restoring the previous mode
/// afterwards (even if `f` panics).
fn with_grad_mode<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(enabled)));
    f()
}

/// Runs `f` with recording switched back on, even inside [`no_grad`] (for
/// example to differentiate a function inside another op's backward pass).
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(true, f)
}

impl<E: Element> Tensor<E> {
    // ANCHOR: from_op
    /// Builds the output of an op. If gradients are enabled and some input
    /// requires them, the output remembers the inputs and `backward`, which
    /// must return one gradient per input, each of that input's shape.
    ///
    /// This is also how a student adds a new op: compute the forward values,
    /// then describe the vector–Jacobian product.
    pub fn from_op(
        op: &'static str,
        data: Vec<E>,
        shape: &[usize],
        inputs: &[&Tensor<E>],
        backward: impl Fn(&Tensor<E>) -> Vec<Option<Tensor<E>>> + Send + Sync + 'static,
    ) -> Tensor<E> {
        Tensor::from_vec(data, shape).recorded(op, inputs, backward)
    }

    /// Turns a freshly computed tensor into the output of `op` (see
    /// [`Tensor::from_op`]); useful when the backward function wants to keep
    /// the output's own data, as exp and sigmoid do.
    pub fn recorded(
        mut self,
        op: &'static str,
        inputs: &[&Tensor<E>],
        backward: impl Fn(&Tensor<E>) -> Vec<Option<Tensor<E>>> + Send + Sync + 'static,
    ) -> Tensor<E> {
        if let Some(observer) = OBSERVER.get() {
            observer.forward_done(op);
        }
        if is_grad_enabled() && inputs.iter().any(|t| t.requires_grad()) {
            let parents = inputs.iter().map(|t| t.requires_grad().then(|| (*t).clone()));
            self.node = Some(Arc::new(Node { op, parents: parents.collect(), backward: Some(Box::new(backward)) }));
        }
        self
    }
    // ANCHOR_END: from_op

    /// The name of the op that made this tensor (`"leaf"` or `"constant"` otherwise).
    pub fn op_name(&self) -> &'static str {
        self.node.as_ref().map_or("constant", |n| n.op)
    }

    /// Back-propagates from this one-element tensor (a loss): seeds ∂L/∂L = 1.
    ///
    /// # Panics
    /// When the tensor has more than one element (use [`Tensor::backward_with`]).
    pub fn backward(&self) -> Gradients<E> {
        assert_eq!(
            self.numel(),
            1,
            "backward: the output has shape {:?}; seed a non-scalar output with backward_with",
            self.shape
        );
        self.backward_with(&Tensor::ones(&self.shape))
    }

    // ANCHOR: backward
    /// Back-propagates a given output gradient ∂L/∂y (`seed`, same shape as self).
    pub fn backward_with(&self, seed: &Tensor<E>) -> Gradients<E> {
        assert_eq!(seed.shape, self.shape, "backward_with: seed shape must equal output shape");
        let mut grads: HashMap<TensorId, Tensor<E>> = HashMap::new();
        if !self.requires_grad() {
            return Gradients { grads };
        }
        grads.insert(self.id, seed.detach());
        observed_pass(|| {
            no_grad(|| {
                // children before parents: each gradient is complete before it is used
                for tensor in self.topological_order().iter().rev() {
                    let node = tensor.node.as_ref().expect("graph tensors have nodes");
                    let (Some(backward), Some(grad_out)) = (&node.backward, grads.get(&tensor.id)) else {
                        continue; // a leaf, or a branch that does not reach the output
                    };
                    let input_grads = observed(node.op, || backward(grad_out));
                    for (parent, grad) in node.parents.iter().zip(input_grads) {
                        if let (Some(parent), Some(grad)) = (parent, grad) {
                            accumulate(&mut grads, parent, grad, node.op);
                        }
                    }
                }
            })
        });
        Gradients { grads }
    }
    // ANCHOR_END: backward

    /// Every tensor of the graph that requires gradients, parents before
    /// children (iterative depth-first post-order, so deep graphs do not
    /// overflow the stack).
    fn topological_order(&self) -> Vec<Tensor<E>> {
        let mut order = Vec::new();
        let mut visited = HashSet::new();
        let mut stack = vec![(self.clone(), false)];
        while let Some((tensor, parents_done)) = stack.pop() {
            if parents_done {
                order.push(tensor);
                continue;
            }
            if !visited.insert(tensor.id) {
                continue;
            }
            let node = tensor.node.clone().expect("graph tensors have nodes");
            stack.push((tensor, true));
            for parent in node.parents.iter().flatten() {
                if !visited.contains(&parent.id) {
                    stack.push((parent.clone(), false));
                }
            }
        }
        order
    }
}

// ANCHOR: observer
/// Something told about every op as the engine runs it: the profiler
/// (`crate::profile`, `cnnlab bench --profile`) is one. The engine knows
/// nothing else about it, and with none installed it calls nothing.
pub trait OpObserver: Sync {
    /// `op` has just computed its output (with or without a graph).
    fn forward_done(&self, op: &'static str);
    /// Runs `work`, one backward step of `op` (its backward function, or
    /// the sum of two gradients that meet at a tensor).
    fn backward_step(&self, op: &'static str, work: &mut dyn FnMut());
    /// Runs `work`, a whole backward pass.
    fn backward_pass(&self, work: &mut dyn FnMut());
}

static OBSERVER: OnceLock<&'static dyn OpObserver> = OnceLock::new();

/// Installs the observer of every op; once per process (later calls change nothing).
pub fn set_observer(observer: &'static dyn OpObserver) {
    let _ = OBSERVER.set(observer);
}

/// `work()`, shown to the observer as a backward step of `op`.
fn observed<R>(op: &'static str, work: impl FnOnce() -> R) -> R {
    let Some(observer) = OBSERVER.get() else { return work() };
    let (mut work, mut result) = (Some(work), None);
    observer.backward_step(op, &mut || result = work.take().map(|w| w()));
    result.expect("the observer ran the backward step")
}

/// `work()`, shown to the observer as a backward pass.
fn observed_pass<R>(work: impl FnOnce() -> R) -> R {
    let Some(observer) = OBSERVER.get() else { return work() };
    let (mut work, mut result) = (Some(work), None);
    observer.backward_pass(&mut || result = work.take().map(|w| w()));
    result.expect("the observer ran the backward pass")
}
// ANCHOR_END: observer

/// Adds a gradient into the store; a tensor used twice receives the sum.
fn accumulate<E: Element>(grads: &mut HashMap<TensorId, Tensor<E>>, parent: &Tensor<E>, grad: Tensor<E>, op: &str) {
    assert_eq!(
        grad.shape, parent.shape,
        "backward of {op}: gradient shape {:?} differs from input shape {:?}",
        grad.shape, parent.shape
    );
    match grads.remove(&parent.id) {
        Some(previous) => {
            let sum = observed("add (gradient sum)", || sum_of_gradients(previous, grad));
            grads.insert(parent.id, sum)
        }
        None => grads.insert(parent.id, grad),
    };
}

/// a + b for two gradients of the same tensor: added into the buffer of
/// one of them that nothing else holds (a gradient a backward function
/// computed, not one passed through from its output), into a new one when
/// both are shared. Addition commutes, so the bits are the same either way.
fn sum_of_gradients<E: Element>(mut a: Tensor<E>, mut b: Tensor<E>) -> Tensor<E> {
    if a.node.is_none() && b.node.is_none() {
        if let Some(values) = Arc::get_mut(&mut a.data) {
            crate::ops::add_assign(values, &b.data);
            return a;
        }
        if let Some(values) = Arc::get_mut(&mut b.data) {
            crate::ops::add_assign(values, &a.data);
            return b;
        }
    }
    a.add(&b)
}

/// The result of a backward pass: ∂L/∂t for every tensor t of the graph.
pub struct Gradients<E: Element = f32> {
    grads: HashMap<TensorId, Tensor<E>>,
}

impl<E: Element> Gradients<E> {
    /// ∂L/∂t, or `None` when `t` is not in the graph or does not require gradients.
    pub fn get(&self, t: &Tensor<E>) -> Option<&Tensor<E>> {
        self.grads.get(&t.id)
    }

    /// ∂L/∂t.
    ///
    /// # Panics
    /// When `t` has no gradient; the message gives its shape.
    pub fn wrt(&self, t: &Tensor<E>) -> &Tensor<E> {
        self.get(t).unwrap_or_else(|| {
            panic!(
                "no gradient for the tensor of shape {:?}: it is not part of the graph or does not require grad",
                t.shape()
            )
        })
    }

    /// ∂L/∂t, zeros when `t` did not influence the output.
    pub fn wrt_or_zeros(&self, t: &Tensor<E>) -> Tensor<E> {
        self.get(t).cloned().unwrap_or_else(|| Tensor::zeros(t.shape()))
    }

    /// How many tensors have a gradient.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// True when nothing received a gradient.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }
}
