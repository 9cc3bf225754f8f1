//! Command-line parsing and the subcommands.

mod commands;
mod explain;
mod explain_images;
mod inspect;
mod perceive;
mod regression;

use clap::{Args, Parser, Subcommand};
use cnnlab::data::image_file::InputSize;
use cnnlab::data::preprocess::Normalization;
use cnnlab::eval::TestTimeAugmentation;
use cnnlab::io::Result;
use cnnlab::models::Arch;
use cnnlab::viz::heatmap::Colormap;
use std::path::PathBuf;

/// Train, evaluate and benchmark small CNNs, from scratch.
#[derive(Parser)]
#[command(name = "cnnlab", version, about, allow_negative_numbers = true)]
struct Cli {
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

/// Options of `cnnlab train`.
#[derive(Args, Clone)]
pub struct TrainArgs {
    /// A whole recipe: fast94 = fastcnn on CIFAR-10 in 10 epochs (whitening,
    /// look-ahead, alternating flips, …; see the "Training fast" chapter).
    /// Options given as well change the recipe's values.
    #[arg(long, value_parser = ["fast94"])]
    pub recipe: Option<String>,
    /// shapes, shapes-binary or poses (stick figures with 14 joints), with :SIZE for another image size (e.g. shapes:64); cifar10; or a path (CIFAR-10 binaries or an image-folder tree; folder or .tar.gz) [default: shapes; fast94: cifar10].
    #[arg(long)]
    pub data: Option<String>,
    /// smallcnn, smallcnn-gmp, resnet20, vgg-fc or fastcnn [default: smallcnn; fast94: fastcnn].
    #[arg(long, value_parser = parse::<Arch>)]
    pub model: Option<Arch>,
    /// Passes over the training images [default: 10; with --resume, the run's
    /// own number, and a larger one extends the run].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per step, at least 2 [default: 128; fast94: 1024].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak learning rate [default: 0.05; fast94: 11.5 per 1,024 images].
    #[arg(long)]
    pub lr: Option<f64>,
    /// sgd (momentum 0.9, Nesterov), adam or adamw [default: sgd].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Weight decay [default: 5e-4; fast94: 0.0153 per 1,024 images].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// constant, step, cosine, warmup-cosine, onecycle or warmup-linear [default: onecycle; fast94: warmup-linear].
    #[arg(long)]
    pub schedule: Option<String>,
    /// Label smoothing for the cross-entropy [default: 0; fast94: 0.2].
    #[arg(long)]
    pub label_smoothing: Option<f64>,
    /// mean-image, channel-mean or channel-mean-std.
    #[arg(long, default_value = "channel-mean-std", value_parser = parse::<Normalization>)]
    pub normalization: Normalization,
    /// Random crop after zero-padding by this many pixels (4 is the CIFAR standard).
    #[arg(long, default_value_t = 0)]
    pub crop_padding: usize,
    /// Horizontal flips: none, random (a coin per image and epoch) or alternate (each image both ways in turn) [default: none; fast94: alternate]; --flip alone means random.
    #[arg(long, num_args = 0..=1, default_missing_value = "random", value_parser = ["none", "random", "alternate"])]
    pub flip: Option<String>,
    /// Random translation by up to this many pixels [default: 0; fast94: 2].
    #[arg(long)]
    pub translate: Option<usize>,
    /// How translations fill the border: repeat (its pixels) or reflect (mirror the image) [default: repeat; fast94: reflect].
    #[arg(long, value_parser = ["repeat", "reflect"])]
    pub border: Option<String>,
    /// Cutout: zero a random square of this side in every training image (16 is the CIFAR-10 choice of DeVries & Taylor).
    #[arg(long, default_value_t = 0)]
    pub cutout: usize,
    /// Seed for weights, order, augmentation and synthetic data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on N training images only (a fixed random sample drawn with the seed).
    #[arg(long)]
    pub limit: Option<usize>,
    /// "Sharpen focus": add λ·L_AS to the loss, the overlap of the true class's
    /// and the most confusing class's attention maps (smallcnn) [default: 0]
    #[arg(long, default_value_t = 0.0)]
    pub attention_separability: f64,
    /// Training images held out for validation (0: validate on the test split; default a tenth, at most 5000; fast94: 0).
    #[arg(long)]
    pub val: Option<usize>,
    /// fast94: a trained random first layer instead of the frozen whitening.
    #[arg(long)]
    pub no_whiten: bool,
    /// fast94: epochs in which the whitening layer's bias trains.
    #[arg(long, default_value_t = 3)]
    pub whiten_bias_epochs: usize,
    /// fast94: random 3×3 convolutions instead of partial identities.
    #[arg(long)]
    pub no_dirac: bool,
    /// fast94: no look-ahead weight averaging.
    #[arg(long)]
    pub no_lookahead: bool,
    /// fast94: Nesterov momentum.
    #[arg(long, default_value_t = 0.85)]
    pub momentum: f64,
    /// fast94: learning-rate multiplier of the BatchNorm biases.
    #[arg(long, default_value_t = 64.0)]
    pub bn_bias_lr_scale: f64,
    /// fast94: the views the final test evaluation averages (none, flip or flip-translate).
    #[arg(long, default_value = "flip-translate", value_parser = parse::<TestTimeAugmentation>)]
    pub tta: TestTimeAugmentation,
    /// What the network learns: classify; localize (class and box, a multitask network; needs boxes: shapes, poses); pose (14 joints; --data poses).
    #[arg(long, default_value = "classify", value_parser = parse::<cnnlab::regression::Task>)]
    pub task: cnnlab::regression::Task,
    /// localize: α in L = α·S + (1 − α)·R, the weight of the class loss S against the box loss R.
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// localize: the box loss R: mse, l1 or smooth-l1.
    #[arg(long, default_value = "smooth-l1", value_parser = parse::<cnnlab::regression::BoxLoss>)]
    pub box_loss: cnnlab::regression::BoxLoss,
    /// Start from the backbone of a trained run (folder, shipped weights or .safetensors) of the same model; the head starts new.
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Run folder for checkpoints, metrics and curves.
    #[arg(long, default_value = "runs/train")]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model; the run folder receives checkpoints, metrics.jsonl and curves.png.
    #[command(allow_negative_numbers = true)]
    Train(TrainArgs),
    /// Evaluate a run's best checkpoint on a test split: accuracy, confusion matrix, ROC for two classes.
    #[command(allow_negative_numbers = true)]
    Eval {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// Evaluate on other data than the run was trained on (same classes and image size).
        #[arg(long)]
        data: Option<String>,
        /// Evaluate the last checkpoint instead of the best on validation (runs trained with --val 0 always are).
        #[arg(long)]
        last: bool,
        /// Test-time augmentation: none; flip (average the predictions for each image and its mirror image); flip-translate (also both shifted by a pixel each way: six views, the fast recipe's); mirror (the mirror image alone, a symmetry check).
        #[arg(long, default_value = "none", value_parser = parse::<TestTimeAugmentation>)]
        tta: TestTimeAugmentation,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The main job on a fresh machine: train smallcnn on shapes and evaluate it.
    #[command(allow_negative_numbers = true)]
    Demo {
        /// Output folder.
        #[arg(long, default_value = "runs/demo")]
        out: PathBuf,
    },
    /// Download a dataset into the cache (~/.cache/cnnlab, or $CNNLAB_CACHE) and verify its checksum.
    #[command(allow_negative_numbers = true)]
    Download {
        /// Which dataset: cifar10.
        dataset: String,
        /// Folder to save into (default: the cache).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Another address for the official archive (a mirror).
        #[arg(long, default_value = cnnlab::data::download::CIFAR10_URL)]
        url: String,
    },
    /// Saliency maps of a test image, image files or a folder of them, as heat-map overlays with boxes.
    #[command(allow_negative_numbers = true)]
    Explain {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// cam, gradcam, gradcam++, smooth-gradcam++, augmented-gradcam, rise, saliency, or all.
        #[arg(long, default_value = "gradcam", value_parser = explain::parse_methods)]
        method: explain::Methods,
        /// The layer for the Grad-CAM family (default: the last conv block); a wrong name lists the layers.
        #[arg(long)]
        layer: Option<String>,
        /// An image file (PNG or JPEG); may be repeated. Needs only the run's checkpoint, not its data.
        #[arg(long)]
        image: Vec<PathBuf>,
        /// A folder of image files (searched recursively): batched, with summary.csv and summary.json.
        #[arg(long)]
        images: Option<PathBuf>,
        /// The test image with this index (the default, 0, when no file is given).
        #[arg(long)]
        index: Option<usize>,
        /// model: resize files to the model's input size; native: keep each file's own size (networks ending in global pooling; 8 to 1024 pixels a side).
        #[arg(long, default_value = "model", value_parser = parse::<InputSize>)]
        size: InputSize,
        /// Explain this class, by index or name (default: each image's top prediction).
        #[arg(long)]
        class: Option<String>,
        /// Output folder (default: RUN/explain for a training run, runs/explain/NAME for shipped weights).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write each raw map (before upsampling and normalisation) as .npy (always done for several images).
        #[arg(long)]
        save_raw: bool,
        /// viridis (perceptual) or jet.
        #[arg(long, default_value = "viridis", value_parser = parse::<Colormap>)]
        colormap: Colormap,
        /// Take test images from other data (same classes and size).
        #[arg(long)]
        data: Option<String>,
    },
    /// Weakly supervised localization scores over the test split (needs ground-truth boxes: shapes).
    #[command(allow_negative_numbers = true)]
    Localize {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// A method, or all.
        #[arg(long, default_value = "all", value_parser = explain::parse_methods)]
        method: explain::Methods,
        /// The layer for the Grad-CAM family.
        #[arg(long)]
        layer: Option<String>,
        /// Only the first N test images.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
        /// Deletion/insertion curves on the first N of them only (default: all).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        perturb_limit: Option<u64>,
        /// Threshold as a fraction of the map's maximum (default: 0.2 for CAM, 0.15 otherwise).
        #[arg(long, value_parser = parse_fraction)]
        threshold: Option<f32>,
        /// Print JSON (one object for one method) instead of a table.
        #[arg(long)]
        json: bool,
        /// Take test images from other data (same classes and size).
        #[arg(long)]
        data: Option<String>,
        /// RISE: random masks per image (its cost: one forward pass each).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
        rise_masks: u64,
        /// With a --task localize run: a classify-only run whose saliency-map boxes (--method) are scored beside the regressed boxes, on the same test images.
        #[arg(long)]
        compare: Option<PathBuf>,
    },
    /// Train a localize network once per α and choose α by a validation metric (correct localization), never by the loss.
    #[command(allow_negative_numbers = true)]
    SweepAlpha {
        /// The values of α in L = α·S + (1 − α)·R.
        #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.5,0.7,0.9")]
        alphas: Vec<f64>,
        /// Training options of every run (--task is localize; --out is the sweep's folder, one run per α inside).
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Look inside a trained network: its filters, its feature maps, the patches that most excite its units.
    #[command(subcommand)]
    Inspect(Inspect),
    /// Synthesise the input that maximises a class score or a channel's activation, by gradient ascent.
    #[command(allow_negative_numbers = true)]
    Synthesize {
        /// The run folder (or shipped weights, or a .safetensors file).
        #[arg(long)]
        run: PathBuf,
        /// A class by index or name, or all (one image per class, in one batch).
        #[arg(long, conflicts_with_all = ["layer", "channel"])]
        class: Option<String>,
        /// Maximise a channel of this layer instead (names as in explain --layer).
        #[arg(long, requires = "channel")]
        layer: Option<String>,
        /// The channel of --layer.
        #[arg(long, requires = "layer")]
        channel: Option<usize>,
        /// Starting settings: none (plain ascent), l2 (the lecture's S_c − λ‖I‖²), jitter-frequency (L2, jitter and the frequency parameterisation: what transfers best on CIFAR-10) or full (L2, jitter, blur, total variation and the frequency parameterisation); the flags below override it.
        #[arg(long, default_value = "l2", value_parser = parse::<SynthesisPreset>)]
        preset: SynthesisPreset,
        /// Gradient-ascent steps.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        steps: Option<u64>,
        /// Step size (root-mean-square change of the normalised image per step).
        #[arg(long, value_parser = parse_non_negative)]
        lr: Option<f32>,
        /// λ of the L2 penalty λ‖I‖².
        #[arg(long, value_parser = parse_non_negative)]
        l2: Option<f32>,
        /// Shift the image by up to this many pixels each step (0: off).
        #[arg(long)]
        jitter: Option<usize>,
        /// Gaussian blur every this many steps (0: off).
        #[arg(long)]
        blur_every: Option<usize>,
        /// σ of the blur in pixels.
        #[arg(long, value_parser = parse_non_negative)]
        blur_sigma: Option<f32>,
        /// Weight of the total-variation penalty.
        #[arg(long, value_parser = parse_non_negative)]
        tv: Option<f32>,
        /// Optimise 1/f-scaled DCT coefficients (true) or pixels (false).
        #[arg(long)]
        frequency: Option<bool>,
        /// Seed of the starting noise and the jitter.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder (default: RUN/synthesize, or runs/synthesize/NAME for shipped weights).
        #[arg(long)]
        out: Option<PathBuf>,
        /// An independently trained network (run folder, shipped weights or file) that classifies the class images: prints the transfer rate (repeatable).
        #[arg(long = "judge")]
        judges: Vec<PathBuf>,
        /// With --judge: synthesise this many times (seeds --seed, --seed + 1, …) and pool the transfer rate.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000), requires = "judges")]
        seeds: u64,
    },
    /// Perception visualization: a decoder that reconstructs images from a frozen classifier's features, masked by Grad-CAM.
    #[command(subcommand)]
    Perceive(Perceive),
    /// Throughput of training and inference on random CIFAR-sized batches.
    #[command(allow_negative_numbers = true)]
    Bench {
        /// Architecture.
        #[arg(long, default_value = "smallcnn", value_parser = parse::<Arch>)]
        model: Arch,
        /// Images per batch.
        #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
        /// Timed steps.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        steps: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also time every op of the training steps (forward, backward, update) and print the table.
        #[arg(long)]
        profile: bool,
    },
}

/// `cnnlab perceive …`.
#[derive(Subcommand)]
enum Perceive {
    /// Train a decoder on the frozen classifier's feature maps (a run folder: config, metrics, curves, checkpoint; Ctrl-C and --resume).
    #[command(allow_negative_numbers = true)]
    Train {
        /// The classifier: a run folder, shipped weights or a .safetensors file (not needed with --resume).
        #[arg(long, required_unless_present = "resume")]
        run: Option<PathBuf>,
        /// The data to train on [default: the classifier run's own].
        #[arg(long)]
        data: Option<String>,
        /// The encoder layer (as in explain --layer) [default: the one Grad-CAM uses, the last conv block].
        #[arg(long)]
        layer: Option<String>,
        /// transposed (a learned 3×3 transposed convolution, stride 2), nearest or bilinear (then a 3×3 convolution).
        #[arg(long = "upsample", default_value = "transposed", value_parser = parse::<cnnlab::perceive::Upsampling>)]
        upsampling: cnnlab::perceive::Upsampling,
        /// Passes over the training images [default: 5; with --resume, the run's own, and a larger one extends it].
        #[arg(long)]
        epochs: Option<usize>,
        /// Images per step.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(2..=4096))]
        batch: u64,
        /// Adam's learning rate.
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// The loss: mse=W,ssim=W,feature=W (feature: MSE between the encoder's features of x̂ and of x).
        #[arg(long, default_value = "mse=0.4,ssim=0.6,feature=1", value_parser = parse::<cnnlab::perceive::LossWeights>)]
        loss_weights: cnnlab::perceive::LossWeights,
        /// Seed of the decoder's weights and of the image order.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Train on the first N training images only.
        #[arg(long)]
        limit: Option<usize>,
        /// The decoder's run folder.
        #[arg(long)]
        out: PathBuf,
        /// Continue the run in --out.
        #[arg(long)]
        resume: bool,
        /// Print the final test metrics as JSON.
        #[arg(long)]
        json: bool,
    },
    /// PSNR, SSIM and class agreement of a decoder's reconstructions on the test split.
    #[command(allow_negative_numbers = true)]
    Eval {
        /// The classifier.
        #[arg(long)]
        run: PathBuf,
        /// The decoder: its run folder or a .safetensors file.
        #[arg(long)]
        decoder: PathBuf,
        /// Test images from other data [default: the classifier run's].
        #[arg(long)]
        data: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// An image, its reconstruction, Grad-CAM on the image (saliency) and on the reconstruction (PV); or K misclassified test images.
    #[command(allow_negative_numbers = true)]
    Show {
        /// The classifier.
        #[arg(long)]
        run: PathBuf,
        /// The decoder: its run folder or a .safetensors file.
        #[arg(long)]
        decoder: PathBuf,
        /// An image file (resized to the model's input size).
        #[arg(long, conflicts_with_all = ["index", "misclassified"])]
        image: Option<PathBuf>,
        /// The test image with this index (default 0).
        #[arg(long, conflicts_with = "misclassified")]
        index: Option<usize>,
        /// K misclassified test images (the first of each class in turn), PV for the predicted and for the true class.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
        misclassified: Option<u64>,
        /// The class to show, by index or name [default: the prediction].
        #[arg(long, conflicts_with = "misclassified")]
        class: Option<String>,
        /// Test images from other data [default: the classifier run's].
        #[arg(long)]
        data: Option<String>,
        /// Output folder [default: RUN/perceive, or runs/perceive/NAME for shipped weights].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `cnnlab inspect …`.
#[derive(Subcommand)]
enum Inspect {
    /// A convolution's filters as a picture (the first layer in colour; deeper ones as grey slices per input channel).
    #[command(allow_negative_numbers = true)]
    Filters {
        /// The run folder (or shipped weights, or a .safetensors file).
        #[arg(long)]
        run: PathBuf,
        /// The convolution, as named in the checkpoint (default: the first); a wrong name lists them.
        #[arg(long)]
        layer: Option<String>,
        /// Show at most this many filters (and input channels).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
        max: u64,
        /// Output folder (default: RUN/inspect).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Every feature map of chosen layers for one image, as a grid (PNG) and as .npy.
    #[command(allow_negative_numbers = true)]
    Activations {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// An image file (resized to the model's input size).
        #[arg(long, conflicts_with = "index")]
        image: Option<PathBuf>,
        /// The test image with this index (default 0).
        #[arg(long)]
        index: Option<usize>,
        /// A layer name (as in explain --layer), or all.
        #[arg(long, default_value = "all")]
        layer: String,
        /// Output folder (default: RUN/inspect).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// For each channel of a layer, the image patches (receptive fields) that excite it most, over a whole split.
    #[command(allow_negative_numbers = true)]
    Patches {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// The layer (as in explain --layer).
        #[arg(long)]
        layer: String,
        /// Channels: all, or a list such as 0,3,8-11.
        #[arg(long, default_value = "0-7")]
        channels: String,
        /// Patches per channel.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
        top: u64,
        /// Other data than the run's (same classes and size).
        #[arg(long)]
        data: Option<String>,
        /// test or train.
        #[arg(long, default_value = "test")]
        split: String,
        /// Output folder (default: RUN/inspect).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// A synthesis preset name.
#[derive(Clone, Copy, Debug)]
pub struct SynthesisPreset(cnnlab::inspect::synthesis::SynthesisOptions);

impl std::str::FromStr for SynthesisPreset {
    type Err = cnnlab::io::Error;
    fn from_str(s: &str) -> Result<Self> {
        cnnlab::inspect::synthesis::SynthesisOptions::preset(s).map(SynthesisPreset)
    }
}

/// A finite number ≥ 0.
fn parse_non_negative(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a number ≥ 0")),
    }
}

/// Parses a value with its `FromStr`, keeping cnnlab's error message.
fn parse<T: std::str::FromStr<Err = cnnlab::io::Error>>(s: &str) -> std::result::Result<T, String> {
    s.parse().map_err(|e: cnnlab::io::Error| e.message)
}

/// A number in [0, 1).
fn parse_fraction(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a fraction in [0, 1)")),
    }
}

/// Parses the command line and runs the subcommand; returns the process exit code.
pub fn run() -> Result<i32> {
    let cli = Cli::parse();
    let threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return Err(cnnlab::io::Error::msg("--threads: must be at least 1"));
    }
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    match cli.command {
        Command::Train(args) => commands::train(args),
        Command::Eval { run, data, last, tta, json } => {
            commands::eval(&run, &commands::EvalOptions { data, last, tta }, json)
        }
        Command::Demo { out } => commands::demo(&out),
        Command::Download { dataset, dir, url } => commands::download(&dataset, dir, &url),
        Command::Explain { run, method, layer, image, images, index, size, class, out, save_raw, colormap, data } => {
            explain_images::explain_command(explain_images::ExplainArgs {
                run,
                methods: method.0,
                layer,
                images: image,
                folder: images,
                index,
                class,
                out,
                save_raw,
                colormap,
                data,
                size,
            })
        }
        Command::Localize { run, method, layer, limit, perturb_limit, threshold, json, data, rise_masks, compare } => {
            let args = explain::LocalizeArgs {
                run,
                methods: method.0,
                layer,
                limit: limit.map(|v| v as usize),
                perturb_limit: perturb_limit.map(|v| v as usize),
                threshold,
                json,
                data,
                rise: cnnlab::explain::RiseOptions { masks: rise_masks as usize, ..Default::default() },
            };
            if regression::task_of(&args.run, false)? == cnnlab::regression::Task::Localize {
                regression::localize(&args, compare.as_deref())
            } else if compare.is_some() {
                Err(cnnlab::io::Error::msg("--compare: give --run a --task localize run to compare its boxes with"))
            } else {
                explain::localize_command(args)
            }
        }
        Command::SweepAlpha { alphas, train } => regression::sweep_alpha(regression::SweepArgs { train, alphas }),
        Command::Inspect(what) => match what {
            Inspect::Filters { run, layer, max, out } => inspect::filters(&run, layer.as_deref(), max as usize, &out),
            Inspect::Activations { run, image, index, layer, out } => {
                inspect::activations(&run, image.as_deref(), index, &layer, &out)
            }
            Inspect::Patches { run, layer, channels, top, data, split, out } => {
                inspect::patches(&inspect::PatchArgs { run, layer, channels, top: top as usize, data, split, out })
            }
        },
        Command::Synthesize {
            run,
            class,
            layer,
            channel,
            preset,
            steps,
            lr,
            l2,
            jitter,
            blur_every,
            blur_sigma,
            tv,
            frequency,
            seed,
            out,
            judges,
            seeds,
        } => {
            let p = preset.0;
            let opts = cnnlab::inspect::synthesis::SynthesisOptions {
                steps: steps.map_or(p.steps, |s| s as usize),
                lr: lr.unwrap_or(p.lr),
                l2: l2.unwrap_or(p.l2),
                jitter: jitter.unwrap_or(p.jitter),
                blur_every: blur_every.unwrap_or(p.blur_every),
                blur_sigma: blur_sigma.unwrap_or(p.blur_sigma),
                tv: tv.unwrap_or(p.tv),
                frequency: frequency.unwrap_or(p.frequency),
                seed,
                ..p
            };
            if opts.blur_every > 0 && opts.blur_sigma <= 0.0 {
                return Err(cnnlab::io::Error::msg("--blur-every needs --blur-sigma > 0"));
            }
            inspect::synthesize_command(&inspect::SynthArgs {
                run,
                class,
                layer,
                channel,
                opts,
                out,
                judges,
                seeds: seeds as usize,
            })
        }
        Command::Perceive(what) => match what {
            Perceive::Train {
                run,
                data,
                layer,
                upsampling,
                epochs,
                batch,
                lr,
                loss_weights,
                seed,
                limit,
                out,
                resume,
                json,
            } => commands::perceive_train(perceive::TrainArgs {
                run,
                data,
                layer,
                upsampling,
                epochs,
                batch: batch as usize,
                lr,
                loss_weights,
                seed,
                limit,
                out,
                resume,
                json,
            }),
            Perceive::Eval { run, decoder, data, json } => {
                perceive::eval_command(&run, &decoder, data.as_deref(), json)
            }
            Perceive::Show { run, decoder, image, index, misclassified, class, data, out } => {
                perceive::show_command(&perceive::ShowArgs {
                    run,
                    decoder,
                    image,
                    index,
                    misclassified: misclassified.map(|k| k as usize),
                    class,
                    data,
                    out,
                })
            }
        },
        Command::Bench { model, batch, steps, json, profile } => {
            commands::bench(model, batch as usize, steps as usize, threads, json, profile)
        }
    }
}
