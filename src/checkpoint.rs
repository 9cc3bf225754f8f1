//! Checkpoints as safetensors files that PyTorch's `load_state_dict(strict=True)` accepts.
//!
//! Tensor names, shapes and dtypes are exactly those of the equivalent
//! `torch.nn` module's `state_dict` (f32 parameters and running statistics,
//! int64 `num_batches_tracked`). What PyTorch does not need but cnnlab does —
//! architecture, classes, preprocessing statistics, epoch — goes into the
//! file's string metadata under `cnnlab.*` keys. Writes are atomic.

use crate::data::preprocess::Preprocessing;
use crate::io::{write_atomic, Error, Result};
use crate::models::{Arch, Model};
use crate::nn::{Module, StateKind};
use crate::regression::Task;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// What a checkpoint says about its model, besides the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointMeta {
    /// Architecture.
    pub arch: Arch,
    /// Input shape (C, H, W).
    pub input: [usize; 3],
    /// Class names, index = output unit.
    pub classes: Vec<String>,
    /// The normalisation fitted on the training split.
    pub preprocessing: Preprocessing,
    /// Completed training epochs.
    pub epoch: usize,
    /// Completed steps of the next epoch (non-zero only after an interruption).
    pub step: usize,
    /// The running totals of those steps (zero when `step` is).
    pub so_far: EpochSoFar,
    /// What the network outputs (class scores; plus a box; or joints).
    pub task: Task,
}

impl CheckpointMeta {
    /// Checks that the checkpoint at `path` is a classifier, for commands
    /// that explain class scores.
    pub fn require_classifier(&self, path: &Path, command: &str) -> Result<()> {
        match self.task {
            Task::Classify => Ok(()),
            task => Err(Error::file(
                path,
                format!(
                    "was trained for --task {task}, not to classify; {command} explains or inspects class \
                     scores and needs a classifier (cnnlab eval scores a {task} network)"
                ),
            )),
        }
    }
}

/// The running totals of an epoch interrupted part-way, saved with it so
/// that after `--resume` the epoch's metrics cover all of its steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochSoFar {
    /// Σ loss · images over the steps done.
    pub loss_sum: f64,
    /// Correct training predictions so far.
    pub correct: usize,
    /// Training images so far.
    pub seen: usize,
    /// Wall time so far, in seconds.
    pub seconds: f64,
}

/// A named tensor read from a file: shape and values as f32 (integers converted).
pub type NamedTensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// Writes named tensors with metadata to a safetensors file, atomically.
/// `Counter` tensors are stored as int64, the rest as float32.
pub fn write_tensors(
    path: &Path,
    tensors: &[(String, Vec<usize>, Vec<f32>, StateKind)],
    meta: HashMap<String, String>,
) -> Result<()> {
    let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, shape, values, kind)| {
            let (dtype, data) = if *kind == StateKind::Counter {
                (Dtype::I64, values.iter().flat_map(|&v| (v.round() as i64).to_le_bytes()).collect())
            } else {
                (Dtype::F32, values.iter().flat_map(|v| v.to_le_bytes()).collect())
            };
            (name.clone(), dtype, shape.clone(), data)
        })
        .collect();
    let views = bytes.iter().map(|(name, dtype, shape, data)| {
        let view =
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).expect("sizes match by construction");
        (name.clone(), view)
    });
    let encoded = if bytes.is_empty() {
        without_tensors(&meta) // safetensors 0.8 writes an invalid header for no tensors
    } else {
        let encoded = safetensors::tensor::serialize(views.collect::<Vec<_>>(), Some(meta))
            .map_err(|e| Error::file(path, format!("cannot encode safetensors: {e}")))?;
        with_sorted_header(encoded)
    };
    write_atomic(path, |w| w.write_all(&encoded))
}

/// A safetensors file that holds metadata and no tensor: the u64 header
/// length, then `{"__metadata__": {…}}` padded with spaces to a multiple of 8.
fn without_tensors(meta: &HashMap<String, String>) -> Vec<u8> {
    let mut text = serde_json::to_vec(&serde_json::json!({ "__metadata__": meta })).expect("strings serialise");
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out
}

/// The safetensors bytes with the JSON header's keys in sorted order. The
/// metadata is a `HashMap`, whose order changes from one map to the next:
/// sorting makes equal tensors and metadata equal files, byte for byte. The
/// header is a u64 length, then JSON padded with spaces to a multiple of 8.
fn with_sorted_header(encoded: Vec<u8>) -> Vec<u8> {
    let n = u64::from_le_bytes(encoded[..8].try_into().expect("8 bytes")) as usize;
    // serde_json's maps are BTreeMaps (no preserve_order feature): parsing sorts the keys
    let header: serde_json::Value = serde_json::from_slice(&encoded[8..8 + n]).expect("safetensors writes JSON");
    let mut text = serde_json::to_vec(&header).expect("JSON values serialise");
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + encoded.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&encoded[8 + n..]);
    out
}

/// Reads every tensor (f32, f64, i64 or i32, converted to f32) and the metadata of a safetensors file.
pub fn read_tensors(path: &Path) -> Result<(NamedTensors, HashMap<String, String>)> {
    tensors_from_bytes(path, &crate::io::read_file(path)?)
}

/// [`read_tensors`] on the bytes of a file (`path` names it in errors).
pub fn tensors_from_bytes(path: &Path, bytes: &[u8]) -> Result<(NamedTensors, HashMap<String, String>)> {
    let bad = |e: safetensors::SafeTensorError| Error::file(path, format!("not a valid safetensors file ({e})"));
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    let meta = header.metadata().clone().unwrap_or_default();
    let file = SafeTensors::deserialize(bytes).map_err(bad)?;
    let mut out = HashMap::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
            Dtype::F64 => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            Dtype::I64 => data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            Dtype::I32 => data.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            other => return Err(Error::file(path, format!("tensor {name} has unsupported dtype {other:?}"))),
        };
        out.insert(name, (view.shape().to_vec(), values));
    }
    Ok((out, meta))
}

// ANCHOR: save
/// Saves a model's state dict and metadata.
pub fn save(path: &Path, model: &mut Model, meta: &CheckpointMeta) -> Result<()> {
    let mut tensors = Vec::new();
    model.visit_state("", &mut |name, t, kind| tensors.push((name.to_string(), t.shape().to_vec(), t.to_vec(), kind)));
    let [c, h, w] = meta.input;
    let mut info = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("cnnlab.architecture".into(), meta.arch.name().into()),
        ("cnnlab.input".into(), format!("{c}x{h}x{w}")),
        ("cnnlab.classes".into(), serde_json::to_string(&meta.classes).expect("strings serialise")),
        ("cnnlab.preprocessing".into(), serde_json::to_string(&meta.preprocessing).expect("plain data serialises")),
        ("cnnlab.epoch".into(), meta.epoch.to_string()),
        ("cnnlab.step".into(), meta.step.to_string()),
        ("cnnlab.epoch_so_far".into(), serde_json::to_string(&meta.so_far).expect("numbers serialise")),
    ]);
    if meta.task != Task::Classify {
        // classifiers' files stay as they were; the key appears only for the regression tasks
        info.insert("cnnlab.task".into(), meta.task.name().into());
    }
    write_tensors(path, &tensors, info)
}
// ANCHOR_END: save

/// The most classes a checkpoint may name (its last layer grows with them).
pub const MAX_CLASSES: usize = 100_000;

/// Interprets a checkpoint's metadata (as returned by [`read_tensors`]).
pub fn parse_meta(path: &Path, meta: &HashMap<String, String>) -> Result<CheckpointMeta> {
    let get = |key: &str| {
        meta.get(key).ok_or_else(|| Error::file(path, format!("not a cnnlab checkpoint: metadata has no '{key}'")))
    };
    let bad = |key: &str, e: String| Error::file(path, format!("metadata '{key}' is malformed: {e}"));
    let arch: Arch = get("cnnlab.architecture")?.parse().map_err(|e: Error| bad("cnnlab.architecture", e.message))?;
    let text = get("cnnlab.input")?;
    let expected = || bad("cnnlab.input", format!("'{text}' is not CxHxW with three positive whole numbers"));
    let dims: Vec<usize> =
        text.split('x').map(|d| d.parse().ok().filter(|&d| d > 0)).collect::<Option<_>>().ok_or_else(expected)?;
    let input: [usize; 3] = dims.try_into().map_err(|_| expected())?;
    // what cnnlab trains: grey or colour images of at most 1024² (vgg-fc's dense layer grows with the area)
    let [c, h, w] = input;
    let side = if arch == Arch::VggFc { 256 } else { 1024 };
    if c > 4 || h > side || w > side {
        return Err(bad("cnnlab.input", format!("{text} is larger than any {arch} cnnlab builds (≤ 4x{side}x{side})")));
    }
    let classes: Vec<String> =
        serde_json::from_str(get("cnnlab.classes")?).map_err(|e| bad("cnnlab.classes", e.to_string()))?;
    if classes.len() > MAX_CLASSES {
        return Err(bad(
            "cnnlab.classes",
            format!("{} classes, more than the {MAX_CLASSES} cnnlab accepts", classes.len()),
        ));
    }
    let preprocessing: Preprocessing =
        serde_json::from_str(get("cnnlab.preprocessing")?).map_err(|e| bad("cnnlab.preprocessing", e.to_string()))?;
    preprocessing.check(input).map_err(|e| bad("cnnlab.preprocessing", e))?;
    let number = |key: &str| -> Result<usize> {
        get(key)?.parse().map_err(|e: std::num::ParseIntError| bad(key, e.to_string()))
    };
    let (epoch, step) = (number("cnnlab.epoch")?, number("cnnlab.step").unwrap_or(0));
    // checkpoints written before the totals were saved: the epoch's metrics restart at zero
    let so_far = match meta.get("cnnlab.epoch_so_far") {
        Some(text) => serde_json::from_str(text).map_err(|e| bad("cnnlab.epoch_so_far", e.to_string()))?,
        None => EpochSoFar::default(),
    };
    let task = match meta.get("cnnlab.task") {
        Some(name) => name.parse().map_err(|e: Error| bad("cnnlab.task", e.message))?,
        None => Task::Classify,
    };
    if task == Task::Pose && classes.len() != 1 {
        return Err(bad("cnnlab.classes", format!("a pose checkpoint has one class (person), not {}", classes.len())));
    }
    Ok(CheckpointMeta { arch, input, classes, preprocessing, epoch, step, so_far, task })
}

// ANCHOR: load
/// Loads a checkpoint: builds its architecture and fills every state tensor.
///
/// # Errors
/// When the file is not a cnnlab safetensors checkpoint, or its tensors do
/// not match the architecture (a missing or extra name, a wrong shape).
pub fn load(path: &Path) -> Result<(Model, CheckpointMeta)> {
    load_from_bytes(path, &crate::io::read_file(path)?)
}

/// [`load`] on the bytes of a file (`path` names it in errors).
pub fn load_from_bytes(path: &Path, bytes: &[u8]) -> Result<(Model, CheckpointMeta)> {
    let (tensors, meta) = tensors_from_bytes(path, bytes)?;
    let meta = parse_meta(path, &meta)?;
    let mut model = Model::new(meta.arch, meta.task.outputs(meta.classes.len()), meta.input, 0)
        .map_err(|e| Error::file(path, e.message))?;
    load_state(path, &mut model, tensors)?;
    Ok((model, meta))
}

/// Copies `tensors` into the model's state, checking names and shapes one by one.
pub fn load_state(path: &Path, model: &mut dyn Module, mut tensors: NamedTensors) -> Result<()> {
    let mut problem = None;
    model.visit_state("", &mut |name, t, _| {
        if problem.is_some() {
            return;
        }
        match tensors.remove(name) {
            None => {
                problem = Some(format!(
                    "tensor '{name}' of shape {:?} is missing (checkpoint of another architecture?)",
                    t.shape()
                ))
            }
            Some((shape, _)) if shape != t.shape() => {
                problem =
                    Some(format!("tensor '{name}' has shape {shape:?} in the file but {:?} in the model", t.shape()))
            }
            Some((_, values)) if values.iter().any(|v| !v.is_finite()) => {
                let bad = values.iter().filter(|v| !v.is_finite()).count();
                problem = Some(format!(
                    "tensor '{name}' holds {bad} non-finite values (NaN or infinity) of {}: \
                     the training that wrote it diverged",
                    values.len()
                ))
            }
            Some((_, values)) => t.data_mut().copy_from_slice(&values),
        }
    });
    if let Some(p) = problem {
        return Err(Error::file(path, p));
    }
    if let Some(extra) = tensors.keys().min() {
        return Err(Error::file(
            path,
            format!("tensor '{extra}' is not part of the model (checkpoint of another architecture?)"),
        ));
    }
    Ok(())
}
// ANCHOR_END: load
