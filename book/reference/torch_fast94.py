"""The fast CIFAR-10 recipe in PyTorch: the reference the "Training fast" chapter compares against.

train: the same network and recipe as
    cnnlab train --recipe fast94 --data ../shared/data/cifar10-jpg.tar.gz --seed S
  (fastcnn after Keller Jordan's airbench94: frozen 2x2 patch whitening, three conv groups 64/256/256
  with GELU and BatchNorm whose scale is frozen at 1, Dirac-initialised 3x3 convolutions, global max
  pooling, a bias-free linear layer scaled by 1/9; Nesterov SGD with lr 11.5 and weight decay 0.0153
  per 1,024 images, batches of 1,024 with the last partial batch dropped, BatchNorm biases at 64x the
  learning rate, 23% linear warm-up from 0.2x then linear decay to 0.07x, look-ahead averaging every 5
  steps, label smoothing 0.2, alternating flips, translation by up to 2 pixels with a mirrored border,
  10 epochs; the test split scored once at the end with six views). fp32 on the CPU, as cnnlab.
  Prints the training time and the test accuracy with one view and with six.
eval: loads a cnnlab fastcnn checkpoint with load_state_dict(strict=True), normalises with the
  statistics in its metadata and prints the test accuracy with one view and with six.

bench: training steps (forward, backward, Nesterov SGD) and inference batches of fastcnn per second on
  random 3x32x32 data, as `cnnlab bench --model fastcnn --batch 1024 --steps 3` measures them; it
  prints the vector instructions PyTorch's own kernels use (ONEDNN_MAX_CPU_ISA=AVX2
  ATEN_CPU_CAPABILITY=avx2 runs it as on a CPU without AVX-512).

usage (from the project root; needs torch, safetensors and pillow):
    python3 book/reference/torch_fast94.py ../shared/data/cifar10-jpg.tar.gz train SEED THREADS
    python3 book/reference/torch_fast94.py ../shared/data/cifar10-jpg.tar.gz eval pretrained/cifar10-fastcnn/last.safetensors
    python3 book/reference/torch_fast94.py - bench BATCH STEPS THREADS
The JPEGs are decoded by PIL here and by the image crate in cnnlab, so pixels can differ by a level;
the random choices (order, flips, shifts) are PyTorch's own, so runs agree in distribution, not bit for bit.
"""
import io, json, math, sys, tarfile, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
WIDTHS = (64, 256, 256)


def norm(c):
    """BatchNorm2d with gamma frozen at 1, momentum 0.4 (PyTorch's convention), eps 1e-12."""
    bn = nn.BatchNorm2d(c, eps=1e-12, momentum=0.4)
    bn.weight.requires_grad = False
    return bn


def conv3x3(c_in, c_out):
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    nn.init.dirac_(conv.weight.data[:c_in])  # the first min(out, in) filters pass their channel on
    return conv


class ConvGroup(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1, self.pool, self.norm1 = conv3x3(c_in, c_out), nn.MaxPool2d(2), norm(c_out)
        self.conv2, self.norm2 = conv3x3(c_out, c_out), norm(c_out)

    def forward(self, x):
        x = F.gelu(self.norm1(self.pool(self.conv1(x))))
        return F.gelu(self.norm2(self.conv2(x)))


class Scale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return self.c * x


def fastcnn(classes=10):
    """Layer for layer cnnlab's fastcnn: its state_dict has cnnlab's names and shapes."""
    net = nn.Sequential(
        nn.Conv2d(3, 24, 2, bias=True),
        nn.GELU(),
        ConvGroup(24, WIDTHS[0]),
        ConvGroup(WIDTHS[0], WIDTHS[1]),
        ConvGroup(WIDTHS[1], WIDTHS[2]),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(WIDTHS[2], classes, bias=False),
        Scale(1 / 9),
    )
    net[0].weight.requires_grad = False
    return net


def whiten(net, images, eps=5e-4):
    """The first layer from the 2x2 patches of `images` (normalised NCHW): eigenvectors / sqrt(eigenvalue + eps), and their negatives."""
    c = images.shape[1]
    patches = images.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, c, 2, 2).double()
    flat = patches.reshape(len(patches), -1)
    values, vectors = torch.linalg.eigh(flat.T @ flat / len(flat))
    values, vectors = values.flip(0), vectors.T.flip(0)  # descending
    filters = (vectors / torch.sqrt(values.clamp(min=0) + eps).view(-1, 1)).reshape(-1, c, 2, 2)
    net[0].weight.data[:] = torch.cat((filters, -filters)).float()


def load(path):
    """Both splits of the image-folder archive as (uint8 NHWC, labels)."""
    split = {"train": ([], []), "test": ([], [])}
    with tarfile.open(path) as tar:
        for m in tar:
            parts = m.name.split("/")
            if not m.isfile() or len(parts) < 3 or parts[-3] not in split:
                continue
            img = np.asarray(Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB"))
            split[parts[-3]][0].append(img)
            split[parts[-3]][1].append(CLASSES.index(parts[-2]))
    return {k: (np.stack(x), np.array(y)) for k, (x, y) in split.items()}


def as_tensor(images):
    return torch.tensor(images).permute(0, 3, 1, 2).float() / 255


def shift(x, d):
    """Moved by d pixels down and right, the border mirrored (reflect padding, then a crop)."""
    padded = F.pad(x, (abs(d),) * 4, mode="reflect")
    o = abs(d) - d
    return padded[:, :, o : o + x.shape[2], o : o + x.shape[3]]


def predict(model, x, views):
    """Class probabilities: one view, or six (image and mirror 1/4 each, both shifted by +-1 pixel 1/8 each)."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), 500):
            b = x[i : i + 500]
            pair = lambda v: 0.5 * (model(v).softmax(1) + model(v.flip(3)).softmax(1))
            if views == 1:
                out.append(model(b).softmax(1))
            else:
                out.append(0.5 * pair(b) + 0.25 * (pair(shift(b, 1)) + pair(shift(b, -1))))
    return torch.cat(out)


def accuracy(model, x, y, views):
    return (predict(model, x, views).argmax(1) == y).float().mean().item()


def train(data, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    started = time.time()
    x, y = as_tensor(data["train"][0]), torch.tensor(data["train"][1])
    mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True)
    x = (x - mean) / std
    test_x, test_y = (as_tensor(data["test"][0]) - mean) / std, torch.tensor(data["test"][1])
    model = fastcnn()
    order = torch.randperm(len(x), generator=gen)
    x, y = x[order], y[order]
    whiten(model, x[:5000])
    epochs, batch, momentum = 10, 1024, 0.85
    step_lr = 11.5 * batch / 1024 / (1 + 1 / (1 - momentum))  # the loss is the batch mean
    l2 = 0.0153 / 11.5
    norm_biases = [p for n, p in model.named_parameters() if ".norm" in n and p.requires_grad]
    others = [p for n, p in model.named_parameters() if ".norm" not in n and n != "0.bias" and p.requires_grad]
    whiten_bias = model[0].bias
    groups = [
        dict(params=norm_biases, lr=step_lr * 64, weight_decay=l2 / 64),
        dict(params=others, lr=step_lr, weight_decay=l2),
        dict(params=[whiten_bias], lr=step_lr, weight_decay=l2),
    ]
    opt = torch.optim.SGD(groups, lr=step_lr, momentum=momentum, nesterov=True)
    base = [g["lr"] for g in opt.param_groups]
    steps = len(x) // batch
    total = epochs * steps
    rise = int(0.23 * total)
    factor = lambda t: 0.2 * (1 - t / rise) + t / rise if t < rise else (1 - (t - rise) / (total - rise)) + 0.07 * (t - rise) / (total - rise)
    average = {k: v.clone() for k, v in model.state_dict().items()}
    flips = torch.rand(len(x), generator=gen) < 0.5  # each image's orientation in even epochs
    t = 0
    for epoch in range(epochs):
        whiten_bias.requires_grad = epoch < 3
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for s in range(steps):
            idx = perm[s * batch : (s + 1) * batch]
            xb = x[idx]
            flip = flips[idx] ^ (epoch % 2 == 1)
            xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(3), xb)
            padded = F.pad(xb, (2, 2, 2, 2), mode="reflect")
            dy, dx = torch.randint(0, 5, (2, len(idx)), generator=gen)
            xb = torch.stack([padded[i, :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32] for i in range(len(idx))])
            for g, b in zip(opt.param_groups, base):
                g["lr"] = b * factor(t)
            loss = F.cross_entropy(model(xb), y[idx], label_smoothing=0.2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            t += 1
            if t % 5 == 0 or t == total:
                alpha = 0.95**5 * (t / total) ** 3 if t % 5 == 0 else None
                with torch.no_grad():
                    for k, v in model.state_dict().items():
                        if v.dtype.is_floating_point:
                            if alpha is not None:
                                average[k].mul_(alpha).add_(v, alpha=1 - alpha)
                            v.copy_(average[k])
        print(f"epoch {epoch + 1}/{epochs} loss {loss.item():.4f} ({time.time() - started:.0f} s)", flush=True)
    trained = time.time() - started
    one, six = accuracy(model, test_x, test_y, 1), accuracy(model, test_x, test_y, 6)
    print(f"test accuracy {one:.4f} (one view), {six:.4f} (six views); training {trained:.0f} s, "
          f"{time.time() - started:.0f} s in all, PyTorch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)


def evaluate(data, checkpoint):
    from safetensors import safe_open
    from safetensors.torch import load_file

    meta = safe_open(checkpoint, "pt").metadata()
    assert meta["cnnlab.architecture"] == "fastcnn", meta["cnnlab.architecture"]
    pre = json.loads(meta["cnnlab.preprocessing"])
    assert pre["mode"] == "channel-mean-std", pre["mode"]
    mean, std = (torch.tensor(pre[k]).view(1, 3, 1, 1) for k in ("mean", "std"))
    model = fastcnn()
    print(model.load_state_dict(load_file(checkpoint), strict=True))
    test_x, test_y = (as_tensor(data["test"][0]) - mean) / std, torch.tensor(data["test"][1])
    one, six = accuracy(model, test_x, test_y, 1), accuracy(model, test_x, test_y, 6)
    print(f"test accuracy {one:.4f} (one view), {six:.4f} (six views) of {checkpoint} in PyTorch {torch.__version__}")


def bench(batch, steps, threads):
    """Images per second of training steps and of inference batches, after one untimed step of each."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = fastcnn()
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    step()
    started = time.time()
    for _ in range(steps):
        step()
    train = batch * steps / (time.time() - started)
    model.eval()
    with torch.no_grad():
        model(x)
        started = time.time()
        for _ in range(steps):
            model(x)
        infer = batch * steps / (time.time() - started)
    print(f"fastcnn batch {batch}, {threads} threads: {train:.1f} training images/s, {infer:.1f} inference images/s "
          f"(PyTorch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()})")


def main():
    archive, mode = sys.argv[1], sys.argv[2]
    if mode == "bench":
        bench(int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "train":
        torch.set_num_threads(int(sys.argv[4]))
        train(load(archive), int(sys.argv[3]))
    elif mode == "eval":
        evaluate(load(archive), sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
