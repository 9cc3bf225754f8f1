//! Batch normalisation as a layer: batch statistics and running averages in training, running averages in evaluation.

use super::{Module, StateKind};
use crate::Tensor;
use std::any::Any;

/// BatchNorm1d (input `[N, C]`) or BatchNorm2d (input `[N, C, H, W]`), PyTorch semantics.
///
/// Training: normalise with the batch's μ and σ² (biased), then update
/// running_mean ← (1 − momentum)·running_mean + momentum·μ and
/// running_var ← (1 − momentum)·running_var + momentum·σ²·m/(m − 1) (unbiased).
/// Evaluation: normalise with the running averages — the output of one image
/// no longer depends on the rest of the batch.
#[derive(Clone)]
pub struct BatchNorm {
    /// γ (PyTorch: `weight`), initialised to 1.
    pub gamma: Tensor,
    /// β (PyTorch: `bias`), initialised to 0.
    pub beta: Tensor,
    /// Running average of the batch means.
    pub running_mean: Tensor,
    /// Running average of the (unbiased) batch variances.
    pub running_var: Tensor,
    /// Number of training batches seen (0-d).
    pub num_batches_tracked: Tensor,
    /// Weight of the newest batch in the running averages (0.1).
    pub momentum: f64,
    /// ε added to the variance (1e-5).
    pub eps: f64,
    /// Expected input rank: 2 for BatchNorm1d, 4 for BatchNorm2d.
    rank: usize,
    training: bool,
}

impl BatchNorm {
    /// BatchNorm2d over `channels` feature maps.
    pub fn new_2d(channels: usize) -> Self {
        Self::with_rank(channels, 4)
    }

    /// BatchNorm1d over `channels` features.
    pub fn new_1d(channels: usize) -> Self {
        Self::with_rank(channels, 2)
    }

    fn with_rank(c: usize, rank: usize) -> Self {
        BatchNorm {
            gamma: Tensor::ones(&[c]).with_grad(),
            beta: Tensor::zeros(&[c]).with_grad(),
            running_mean: Tensor::zeros(&[c]),
            running_var: Tensor::ones(&[c]),
            num_batches_tracked: Tensor::scalar(0.0),
            momentum: 0.1,
            eps: 1e-5,
            rank,
            training: true,
        }
    }

    /// With another momentum (the weight of the newest batch in the running averages).
    pub fn with_momentum(self, momentum: f64) -> Self {
        BatchNorm { momentum, ..self }
    }

    /// With another ε.
    pub fn with_eps(self, eps: f64) -> Self {
        BatchNorm { eps, ..self }
    }

    /// With γ fixed at its value (1): a constant, not trained — only β learns
    /// (PyTorch: `weight.requires_grad = False`). Saved under the same name.
    pub fn frozen_scale(self) -> Self {
        BatchNorm { gamma: self.gamma.detach(), ..self }
    }

    /// True in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// This layer followed by ReLU. In training mode the two run as one op
    /// (`batch_norm_relu_train`: the same values, one pass over the batch
    /// fewer each way); in evaluation mode one after the other.
    pub fn forward_relu(&mut self, x: &Tensor) -> Tensor {
        if !self.training || x.rank() != self.rank {
            return self.forward(x).relu();
        }
        let (y, stats) = x.batch_norm_relu_train(&self.gamma, &self.beta, self.eps);
        self.update_running(&stats);
        y
    }

    /// ReLU(this layer + shortcut), the tail of a residual block. In
    /// training mode the three run as one op (`batch_norm_add_relu_train`);
    /// in evaluation mode one after the other.
    pub fn forward_add_relu(&mut self, x: &Tensor, shortcut: &Tensor) -> Tensor {
        if !self.training || x.rank() != self.rank {
            return self.forward(x).add(shortcut).relu();
        }
        let (y, stats) = x.batch_norm_add_relu_train(&self.gamma, &self.beta, shortcut, self.eps);
        self.update_running(&stats);
        y
    }

    /// This layer in evaluation mode as a convolution's epilogue (μ, k =
    /// γ/√(σ²+ε), β per channel), with or without a ReLU after it; `None` in
    /// training mode or for BatchNorm1d.
    pub fn eval_epilogue(&self, relu: bool) -> Option<super::ChannelEpilogue<f32>> {
        if self.training || self.rank != 4 {
            return None;
        }
        let (mean, var) = (to_f64(&self.running_mean), to_f64(&self.running_var));
        let (mean, scale) = crate::ops::batchnorm::eval_affine(self.gamma.data(), &mean, &var, self.eps);
        Some(super::ChannelEpilogue { mean, scale, shift: self.beta.data().to_vec(), relu })
    }

    // ANCHOR: running_update
    /// running ← (1 − momentum)·running + momentum·batch, variance unbiased.
    fn update_running(&mut self, stats: &crate::ops::batchnorm::BatchStats) {
        let m = self.momentum;
        let unbias = stats.count as f64 / (stats.count as f64 - 1.0).max(1.0);
        let mean = self.running_mean.data_mut();
        for (r, &b) in mean.iter_mut().zip(&stats.mean) {
            *r = ((1.0 - m) * *r as f64 + m * b) as f32;
        }
        let var = self.running_var.data_mut();
        for (r, &b) in var.iter_mut().zip(&stats.var) {
            *r = ((1.0 - m) * *r as f64 + m * b * unbias) as f32;
        }
        self.num_batches_tracked.data_mut()[0] += 1.0;
    }
    // ANCHOR_END: running_update
}

impl BatchNorm {
    /// PyTorch's name for it: BatchNorm1d over `[N, C]`, BatchNorm2d over `[N, C, H, W]`.
    fn name(&self) -> &'static str {
        if self.rank == 4 {
            "BatchNorm2d"
        } else {
            "BatchNorm1d"
        }
    }
}

fn to_f64(t: &Tensor) -> Vec<f64> {
    t.data().iter().map(|&v| v as f64).collect()
}

impl Module for BatchNorm {
    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor) -> Tensor {
        assert_eq!(x.rank(), self.rank, "{}: expected a {}-D input, got shape {:?}", self.name(), self.rank, x.shape());
        if self.training {
            let (y, stats) = x.batch_norm_train(&self.gamma, &self.beta, self.eps);
            self.update_running(&stats);
            y
        } else {
            let (mean, var) = (to_f64(&self.running_mean), to_f64(&self.running_var));
            x.batch_norm_eval(&self.gamma, &self.beta, &mean, &var, self.eps)
        }
    }
    // ANCHOR_END: forward

    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        f(&format!("{prefix}weight"), &mut self.gamma, StateKind::Parameter);
        f(&format!("{prefix}bias"), &mut self.beta, StateKind::Parameter);
        f(&format!("{prefix}running_mean"), &mut self.running_mean, StateKind::Buffer);
        f(&format!("{prefix}running_var"), &mut self.running_var, StateKind::Buffer);
        f(&format!("{prefix}num_batches_tracked"), &mut self.num_batches_tracked, StateKind::Counter);
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn describe(&self) -> String {
        format!("{}({})", self.name(), self.gamma.numel())
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_norm_is_named_as_in_pytorch() {
        assert_eq!(BatchNorm::new_2d(8).describe(), "BatchNorm2d(8)");
        assert_eq!(BatchNorm::new_1d(5).describe(), "BatchNorm1d(5)");
        let refused = std::panic::catch_unwind(|| BatchNorm::new_2d(3).forward(&Tensor::zeros(&[2, 3])));
        let message = *refused.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("BatchNorm2d: expected a 4-D input"), "{message}");
    }
}
