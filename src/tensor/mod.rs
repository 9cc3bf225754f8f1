//! The `Tensor`: an n-dimensional array of `f32` (or `f64`) that remembers how it was made.

pub mod conv_shape;
mod element;
pub mod shape;

pub use element::Element;

use crate::autograd::Node;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A unique identity for every tensor value; the gradient store is keyed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

// ANCHOR: tensor
/// An n-dimensional array in row-major order with an optional autodiff history.
///
/// Images are NCHW (batch, channel, height, width), convolution weights OIHW.
/// Cloning is cheap: the data and the history are shared, never copied.
/// A tensor is immutable; every op returns a new one.
pub struct Tensor<E: Element = f32> {
    pub(crate) id: TensorId,
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Arc<Vec<E>>,
    /// How this tensor was computed; `None` for constants and in no-grad mode.
    pub(crate) node: Option<Arc<Node<E>>>,
}
// ANCHOR_END: tensor

impl<E: Element> Clone for Tensor<E> {
    fn clone(&self) -> Self {
        Tensor { id: self.id, shape: self.shape.clone(), data: Arc::clone(&self.data), node: self.node.clone() }
    }
}

impl<E: Element> std::fmt::Debug for Tensor<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head: Vec<_> = self.data.iter().take(8).collect();
        write!(f, "Tensor(shape={:?}, data={:?}", self.shape, head)?;
        if self.data.len() > 8 {
            write!(f, "…")?;
        }
        write!(f, ", requires_grad={})", self.requires_grad())
    }
}

impl<E: Element> Tensor<E> {
    /// A constant tensor from row-major data.
    ///
    /// # Panics
    /// When `data.len()` differs from the product of `shape`.
    pub fn from_vec(data: Vec<E>, shape: &[usize]) -> Self {
        assert_eq!(data.len(), shape::numel(shape), "from_vec: {} values cannot fill shape {shape:?}", data.len());
        Tensor { id: TensorId::fresh(), shape: shape.to_vec(), data: Arc::new(data), node: None }
    }

    /// A constant tensor viewing data that another tensor already holds.
    pub(crate) fn from_shared(data: Arc<Vec<E>>, shape: &[usize]) -> Self {
        debug_assert_eq!(data.len(), shape::numel(shape));
        Tensor { id: TensorId::fresh(), shape: shape.to_vec(), data, node: None }
    }

    /// A tensor filled with `value`.
    pub fn full(shape: &[usize], value: E) -> Self {
        Self::from_vec(vec![value; shape::numel(shape)], shape)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, E::ZERO)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, E::ONE)
    }

    /// A 0-dimensional tensor holding one value.
    pub fn scalar(value: E) -> Self {
        Self::from_vec(vec![value], &[])
    }

    /// Samples from the standard normal N(0, 1) (Box–Muller transform).
    pub fn randn(shape: &[usize], rng: &mut impl Rng) -> Self {
        let data = (0..shape::numel(shape)).map(|_| E::from_f64(standard_normal(rng))).collect();
        Self::from_vec(data, shape)
    }

    /// Samples uniformly from `[low, high)`.
    pub fn rand_uniform(shape: &[usize], low: f64, high: f64, rng: &mut impl Rng) -> Self {
        let data = (0..shape::numel(shape)).map(|_| E::from_f64(rng.random_range(low..high))).collect();
        Self::from_vec(data, shape)
    }

    /// Marks this tensor as a leaf whose gradient `backward()` should compute
    /// (a parameter, or an input image to be optimised).
    pub fn with_grad(self) -> Self {
        Tensor { id: TensorId::fresh(), node: Some(Arc::new(Node::leaf())), ..self }
    }

    /// The same values, cut from the graph: gradients do not flow through it.
    pub fn detach(&self) -> Self {
        Self::from_shared(Arc::clone(&self.data), &self.shape)
    }

    /// True when gradients flow into this tensor.
    pub fn requires_grad(&self) -> bool {
        self.node.is_some()
    }

    /// This tensor's identity in the gradient store.
    pub fn id(&self) -> TensorId {
        self.id
    }

    /// The shape, outermost axis first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The values in row-major order.
    pub fn data(&self) -> &[E] {
        &self.data
    }

    /// A copy of the values.
    pub fn to_vec(&self) -> Vec<E> {
        self.data.to_vec()
    }

    /// The values converted to `f32`.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        self.data.iter().map(|v| v.to_f64() as f32).collect()
    }

    /// The single value of a one-element tensor.
    ///
    /// # Panics
    /// When the tensor has more than one element.
    pub fn item(&self) -> E {
        assert_eq!(self.numel(), 1, "item: tensor of shape {:?} has more than one value", self.shape);
        self.data[0]
    }

    /// Mutable access to the values, in place (copy-on-write when the data is
    /// shared with a graph). Used by optimisers to update parameters; the
    /// tensor keeps its identity.
    pub fn data_mut(&mut self) -> &mut [E] {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    /// The four sizes of an NCHW tensor.
    ///
    /// # Panics
    /// When the tensor is not 4-dimensional; the message names `op`.
    pub fn dims4(&self, op: &str) -> (usize, usize, usize, usize) {
        match self.shape[..] {
            [n, c, h, w] => (n, c, h, w),
            _ => panic!("{op}: expected a 4-D NCHW tensor, got shape {:?}", self.shape),
        }
    }

    /// The two sizes of a matrix.
    ///
    /// # Panics
    /// When the tensor is not 2-dimensional; the message names `op`.
    pub fn dims2(&self, op: &str) -> (usize, usize) {
        match self.shape[..] {
            [r, c] => (r, c),
            _ => panic!("{op}: expected a 2-D tensor, got shape {:?}", self.shape),
        }
    }

    /// Converts the element type (e.g. an `f32` model input to `f64` for a check).
    pub fn cast<F: Element>(&self) -> Tensor<F> {
        let data = self.data.iter().map(|v| F::from_f64(v.to_f64())).collect();
        Tensor::from_vec(data, &self.shape)
    }
}

/// One sample of N(0, 1) by the Box–Muller transform.
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1], so ln is finite
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
