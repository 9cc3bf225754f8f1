//! The same seed gives the same training run, bit for bit, on 1 or 2 threads.

use cnnlab::models::{Arch, Model};
use cnnlab::nn::{state_tensors, Module};
use cnnlab::optim::{Optimizer, Sgd};
use cnnlab::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Three SGD-Nesterov steps (BatchNorm in training mode) on a fixed random
/// batch of 20 images (not a multiple of the 8-image gradient chunks);
/// returns every state tensor's bits.
fn train_on(threads: usize, arch: Arch) -> Vec<(String, Vec<u32>)> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let mut rng = StdRng::seed_from_u64(11);
        let mut model = Model::new(arch, 10, [3, 32, 32], 5).unwrap();
        let x = Tensor::randn(&[20, 3, 32, 32], &mut rng);
        let labels: Vec<usize> = (0..20).map(|_| rng.random_range(0..10)).collect();
        let mut opt = Sgd::new(0.05).momentum(0.9, true).weight_decay(5e-4);
        for _ in 0..3 {
            let grads = model.forward(&x).cross_entropy(&labels, 0.1).backward();
            opt.step(&mut model, &grads);
        }
        let state = state_tensors(&mut model);
        state.into_iter().map(|(name, t, _)| (name, t.data().iter().map(|v| v.to_bits()).collect())).collect()
    })
}

#[test]
fn training_steps_are_bit_identical_on_one_and_two_threads() {
    for arch in [Arch::SmallCnn, Arch::ResNet20] {
        let (one, two) = (train_on(1, arch), train_on(2, arch));
        assert_eq!(one.len(), two.len());
        for ((name, a), (_, b)) in one.iter().zip(&two) {
            let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
            assert_eq!(differing, 0, "{arch}: {name} differs in {differing} of {} values", a.len());
        }
    }
}
