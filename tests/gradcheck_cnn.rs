//! Property-based gradient checks of the CNN ops: convolution, pooling,
//! upsampling, batch norm (alone, with ReLU, with a residual and ReLU), dropout and the losses.

mod common;
use cnnlab::ops::pool::Pool2dConfig;
use cnnlab::{Conv2dConfig, Tensor};
use common::{check, kink_free, positive, spacing, tensor};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 32, ..ProptestConfig::default() }
}

/// One convolution problem: input shape, weight shape and configuration.
#[derive(Debug, Clone)]
struct ConvCase {
    x: [usize; 4],
    w: [usize; 4],
    cfg: Conv2dConfig,
    bias: bool,
}

prop_compose! {
    fn conv_case()(
        n in 1usize..=3, c_g in 1usize..=3, o_g in 1usize..=3, groups in 1usize..=2,
        kh in 1usize..=3, kw in 1usize..=3, h in 1usize..=7, w in 1usize..=7,
        sh in 1usize..=4, sw in 1usize..=3, dil in 1usize..=2,
        ph in 0usize..=1, pw in 0usize..=1, bias in any::<bool>(),
    ) -> ConvCase {
        let cfg = Conv2dConfig { stride: (sh, sw), padding: (ph * (kh / 2), pw * (kw / 2)), dilation: (dil, dil), groups };
        ConvCase { x: [n, c_g * groups, h, w], w: [o_g * groups, c_g, kh, kw], cfg, bias }
    }
}

fn fits(input: usize, k: usize, pad: usize, dil: usize) -> bool {
    input + 2 * pad > dil * (k - 1)
}

/// A pooling problem: input shape and window.
fn pool_case() -> impl Strategy<Value = ([usize; 4], Pool2dConfig)> {
    (1usize..=2, 1usize..=3, 1usize..=7, 1usize..=7, 1usize..=3, 1usize..=3, 1usize..=4, any::<bool>())
        .prop_map(|(n, c, h, w, kh, kw, s, pad)| {
            let padding = if pad { (kh / 2, kw / 2) } else { (0, 0) };
            ([n, c, h, w], Pool2dConfig { kernel: (kh, kw), stride: (s, s.max(1)), padding })
        })
        .prop_filter("window fits", |(x, cfg)| {
            x[2] + 2 * cfg.padding.0 >= cfg.kernel.0 && x[3] + 2 * cfg.padding.1 >= cfg.kernel.1
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn gradcheck_conv2d(case in conv_case(), seed in any::<u64>()) {
        let c = case.cfg;
        prop_assume!(fits(case.x[2], case.w[2], c.padding.0, c.dilation.0) && fits(case.x[3], case.w[3], c.padding.1, c.dilation.1));
        let mut inputs = vec![tensor(&case.x, seed, 1.0), tensor(&case.w, seed ^ 1, 1.0)];
        if case.bias {
            inputs.push(tensor(&[case.w[0]], seed ^ 2, 1.0));
        }
        check(|t| t[0].conv2d(&t[1], t.get(2), c), &inputs, seed);
    }

    #[test]
    fn gradcheck_max_pool2d((shape, cfg) in pool_case(), seed in any::<u64>()) {
        check(|t| t[0].max_pool2d(cfg), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_avg_pool2d((shape, cfg) in pool_case(), seed in any::<u64>()) {
        check(|t| t[0].avg_pool2d(cfg), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_global_avg_pool2d(shape in common::shape(4, 5), seed in any::<u64>()) {
        check(|t| t[0].global_avg_pool2d(), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_global_max_pool2d(shape in common::shape(4, 5), seed in any::<u64>()) {
        check(|t| t[0].global_max_pool2d(), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_upsample_bilinear(shape in common::shape(4, 4), oh in 1usize..=9, ow in 1usize..=9, seed in any::<u64>()) {
        check(|t| t[0].upsample_bilinear((oh, ow)), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_upsample_nearest(shape in common::shape(4, 4), oh in 1usize..=9, ow in 1usize..=9, seed in any::<u64>()) {
        check(|t| t[0].upsample_nearest((oh, ow)), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_batch_norm(n in 1usize..=4, c in 1usize..=3, h in 1usize..=4, w in 1usize..=3, flat in any::<bool>(), seed in any::<u64>()) {
        prop_assume!(n * h * w >= 2);
        let shape = if flat { vec![n * h * w, c] } else { vec![n, c, h, w] };
        let inputs = [tensor(&shape, seed, 2.0), tensor(&[c], seed ^ 1, 2.0), tensor(&[c], seed ^ 2, 2.0)];
        check(|t| t[0].batch_norm_train(&t[1], &t[2], 1e-5).0, &inputs, seed);
    }

    #[test]
    fn gradcheck_batch_norm_relu(n in 1usize..=4, c in 1usize..=3, h in 1usize..=4, w in 1usize..=3, seed in any::<u64>()) {
        prop_assume!(n * h * w >= 2);
        let inputs = [tensor(&[n, c, h, w], seed, 2.0), tensor(&[c], seed ^ 1, 2.0), tensor(&[c], seed ^ 2, 2.0)];
        // finite differences need every output away from ReLU's kink
        let y = inputs[0].batch_norm_train(&inputs[1], &inputs[2], 1e-5).0;
        prop_assume!(y.data().iter().all(|v| v.abs() > 1e-3));
        prop_assume!(y.data().iter().any(|&v| v > 0.0) && y.data().iter().any(|&v| v < 0.0));
        check(|t| t[0].batch_norm_relu_train(&t[1], &t[2], 1e-5).0, &inputs, seed);
    }

    #[test]
    fn gradcheck_batch_norm_add_relu(n in 1usize..=4, c in 1usize..=3, h in 1usize..=4, w in 1usize..=3, seed in any::<u64>()) {
        prop_assume!(n * h * w >= 2);
        let shape = [n, c, h, w];
        let inputs = [tensor(&shape, seed, 2.0), tensor(&[c], seed ^ 1, 2.0), tensor(&[c], seed ^ 2, 2.0), tensor(&shape, seed ^ 3, 2.0)];
        // finite differences need every sum BN(x) + r away from ReLU's kink, and both sides of it present
        let sum = inputs[0].batch_norm_train(&inputs[1], &inputs[2], 1e-5).0.add(&inputs[3]);
        prop_assume!(sum.data().iter().all(|v| v.abs() > 1e-3));
        prop_assume!(sum.data().iter().any(|&v| v > 0.0) && sum.data().iter().any(|&v| v < 0.0));
        check(|t| t[0].batch_norm_add_relu_train(&t[1], &t[2], &t[3], 1e-5).0, &inputs, seed);
    }

    #[test]
    fn gradcheck_batch_norm_eval(shape in common::shape(4, 4), seed in any::<u64>()) {
        let c = shape[1];
        let mean = kink_free(c, seed ^ 3, 1.0);
        let var: Vec<f64> = kink_free(c, seed ^ 4, 1.0).iter().map(|v| v.abs() + 0.1).collect();
        let inputs = [tensor(&shape, seed, 2.0), tensor(&[c], seed ^ 1, 2.0), tensor(&[c], seed ^ 2, 2.0)];
        check(|t| t[0].batch_norm_eval(&t[1], &t[2], &mean, &var, 1e-5), &inputs, seed);
    }

    #[test]
    fn gradcheck_dropout(shape in common::shape(3, 5), p in 0.0f64..0.8, seed in any::<u64>()) {
        check(|t| t[0].dropout(p, seed), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_cross_entropy(n in 1usize..=5, c in 2usize..=6, smoothing in prop_oneof![Just(0.0), 0.0f64..0.3], seed in any::<u64>()) {
        let labels: Vec<usize> = (0..n).map(|i| (seed as usize / (i + 1)) % c).collect();
        check(|t| t[0].cross_entropy(&labels, smoothing), &[tensor(&[n, c], seed, 5.0)], seed);
    }

    #[test]
    fn gradcheck_bce_with_logits(shape in common::shape(2, 5), seed in any::<u64>()) {
        let targets = Tensor::from_vec(kink_free(shape.iter().product(), seed ^ 1, 1.0).iter().map(|v| v.abs().min(1.0)).collect(), &shape);
        check(|t| t[0].bce_with_logits(&targets), &[tensor(&shape, seed, 6.0)], seed);
    }

    #[test]
    fn gradcheck_mse_loss(shape in common::shape(3, 4), seed in any::<u64>()) {
        check(|t| t[0].mse_loss(&t[1]), &[tensor(&shape, seed, 2.0), tensor(&shape, seed ^ 1, 2.0)], seed);
    }

    #[test]
    fn gradcheck_l1_loss(shape in common::shape(3, 4), seed in any::<u64>()) {
        let target = Tensor::zeros(&shape);
        check(|t| t[0].l1_loss(&target), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_smooth_l1_loss(shape in common::shape(3, 4), multiple in 1usize..6, seed in any::<u64>()) {
        let n: usize = shape.iter().product();
        let beta = multiple as f64 * spacing(n, 2.0); // a grid point: no value sits on the kink |d| = β
        let target = Tensor::zeros(&shape);
        check(|t| t[0].smooth_l1_loss(&target, beta), &[tensor(&shape, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_small_cnn_end_to_end(n in 1usize..=3, seed in any::<u64>()) {
        let inputs = [
            tensor(&[n, 2, 6, 6], seed, 1.0),
            tensor(&[3, 2, 3, 3], seed ^ 1, 1.0),
            positive(&[3], seed ^ 2, 1.0),
            tensor(&[3], seed ^ 3, 1.0),
            tensor(&[3, 4], seed ^ 4, 1.0),
        ];
        let labels: Vec<usize> = (0..n).map(|i| i % 4).collect();
        check(
            |t| {
                let h = t[0].conv2d(&t[1], None, Conv2dConfig::default().padding(1));
                let h = h.batch_norm_train(&t[2], &t[3], 1e-5).0.tanh().max_pool2d(Pool2dConfig::new(2));
                h.global_avg_pool2d().flatten(1).matmul(&t[4]).cross_entropy(&labels, 0.0)
            },
            &inputs,
            seed,
        );
    }
}
