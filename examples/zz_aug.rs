use cnnlab::explain::{AugmentedOptions, Method, Options};
use cnnlab::localize::{localize, LocalizeOptions};
use cnnlab::train::{self, RunDir};
fn main() {
    let run = RunDir::new("runs/demo");
    let cfg = run.config().unwrap();
    let (mut model, meta) = train::load_run_model(&run).unwrap();
    let prep = train::prepare(&cfg).unwrap();
    let lo = LocalizeOptions { limit: Some(80), perturb_limit: Some(0), calibration_images: 80, ..Default::default() };
    let base = Options::default();
    let r =
        localize(&mut model, &prep.test, &meta.preprocessing, Method::GradCam, &base, &lo, Some(&prep.val)).unwrap();
    println!(
        "gradcam: def {:.3} cal {:.3} (τ {:?}) gtk {:?} maxbox {:.3}",
        r.mean_iou,
        r.mean_iou_calibrated.unwrap(),
        r.calibrated_threshold,
        r.gt_known_loc_calibrated,
        r.max_box_acc
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    for spec in args {
        let v: Vec<f32> = spec.split(',').map(|x| x.parse().unwrap()).collect();
        let aug = AugmentedOptions {
            augmentations: v[0] as usize,
            max_degrees: v[1],
            max_shift: v[2],
            lambda: v[3],
            mu: v[4],
            steps: v[5] as usize,
            step: v[6],
            seed: 0,
        };
        let opts = Options { augmented: aug, ..Options::default() };
        let r = localize(
            &mut model,
            &prep.test,
            &meta.preprocessing,
            Method::AugmentedGradCam,
            &opts,
            &lo,
            Some(&prep.val),
        )
        .unwrap();
        println!(
            "{spec}: def {:.3} cal {:.3} (τ {:?}) gtk {:?} maxbox {:.3}  {:.1}s",
            r.mean_iou,
            r.mean_iou_calibrated.unwrap(),
            r.calibrated_threshold,
            r.gt_known_loc_calibrated,
            r.max_box_acc,
            r.seconds
        );
        let x = cnnlab::train::batches::make_batch(&prep.test, &[0, 1, 2], &meta.preprocessing, None).0;
        let ((_, _, _), hist) = cnnlab::explain::capture::frozen(&mut model, |m| {
            cnnlab::explain::augmented::augmented_gradcam(m, &x, "19", &cnnlab::explain::Target::Top, &aug)
        })
        .unwrap();
        for h in hist {
            let best = h.iter().cloned().fold(f64::INFINITY, f64::min);
            let arg = h.iter().position(|&v| v == best).unwrap();
            println!("   F0 {:.3} best {:.3} at step {arg} last {:.3}", h[0], best, h[h.len() - 1]);
        }
    }
}
