"""ResNet-20 on the CIFAR-10 JPEG copy in PyTorch: the reference the training chapter compares against.

train: the same network and recipe as
    cnnlab train --model resnet20 --batch 128 --lr 0.1 --schedule warmup-cosine --weight-decay 0.0005
                 --crop-padding 4 --flip --epochs EPOCHS
  (option-A ResNet-20 with Kaiming-normal convolutions, SGD with Nesterov momentum 0.9, one epoch of
  linear warm-up then cosine to 0, per step; per-channel mean/std of the training images; 5,000
  training images held out for validation). Prints validation accuracy per epoch and the test
  accuracy at the end.
eval: loads a cnnlab ResNet-20 checkpoint with load_state_dict(strict=True), normalises with the
  statistics in its metadata and prints the test accuracy.

usage (from the project root; needs torch, safetensors and pillow):
    python3 book/reference/torch_resnet20.py ../shared/data/cifar10-jpg.tar.gz train EPOCHS THREADS
    python3 book/reference/torch_resnet20.py ../shared/data/cifar10-jpg.tar.gz eval runs/NAME/best.safetensors
    python3 book/reference/torch_resnet20.py - bench BATCH STEPS THREADS
bench: training steps (forward, backward, Nesterov SGD) and inference batches per second on random
  3x32x32 data, as `cnnlab bench --model resnet20 --batch BATCH --steps STEPS` measures them; it
  prints the vector instructions PyTorch's own kernels use. To run PyTorch as it runs on a CPU
  without AVX-512 (against `CNNLAB_KERNELS=avx2`), limit both oneDNN and ATen:
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python3 book/reference/torch_resnet20.py - bench 128 20 2
The JPEGs are decoded by PIL here and by the image crate in cnnlab, so pixels can differ by a level.
"""
import io, json, math, sys, tarfile, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.pad, self.stride = (c_out - c_in) // 2, stride

    def shortcut(self, x):  # option A: subsample, pad channels with zeros
        if self.stride == 1 and self.pad == 0:
            return x
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    """The module of the training chapter: its state_dict has cnnlab's names and shapes."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stage = lambda i, o, s: nn.Sequential(BasicBlock(i, o, s), BasicBlock(o, o, 1), BasicBlock(o, o, 1))
        self.layer1, self.layer2, self.layer3 = stage(16, 16, 1), stage(16, 32, 2), stage(32, 64, 2)
        self.linear = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))


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


def augment(x, gen):
    """Crop with 4 pixels of zero padding (after normalisation, as cnnlab) and horizontal flips."""
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    dy, dx = torch.randint(0, 9, (n,), generator=gen), torch.randint(0, 9, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        img = padded[i, :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
        out[i] = img.flip(2) if flip[i] else img
    return out


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i : i + 500]).argmax(1) for i in range(0, len(x), 500)])
    return (pred == y).float().mean().item()


def train(data, epochs):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x, y = as_tensor(data["train"][0]), torch.tensor(data["train"][1])
    order = torch.randperm(len(x), generator=gen)
    val_x, val_y, x, y = x[order[:5000]], y[order[:5000]], x[order[5000:]], y[order[5000:]]
    mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True)
    x, val_x = (x - mean) / std, (val_x - mean) / std
    test_x, test_y = (as_tensor(data["test"][0]) - mean) / std, torch.tensor(data["test"][1])
    model = ResNet20()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = math.ceil(len(x) / 128)
    total, warmup = epochs * steps, steps
    lr_at = lambda t: 0.1 * (t + 1) / warmup if t < warmup else 0.05 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
    started, t = time.time(), 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for s in range(steps):
            idx = perm[s * 128 : (s + 1) * 128]
            for g in opt.param_groups:
                g["lr"] = lr_at(t)
            loss = F.cross_entropy(model(augment(x[idx], gen)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            t += 1
        print(f"epoch {epoch + 1}/{epochs} val {accuracy(model, val_x, val_y):.4f} ({time.time() - started:.0f} s)", flush=True)
    print(f"test accuracy {accuracy(model, test_x, test_y):.4f}, {time.time() - started:.0f} s in all", flush=True)


def evaluate(data, checkpoint):
    from safetensors import safe_open
    from safetensors.torch import load_file

    meta = safe_open(checkpoint, "pt").metadata()
    assert meta["cnnlab.architecture"] == "resnet20", meta["cnnlab.architecture"]
    pre = json.loads(meta["cnnlab.preprocessing"])
    assert pre["mode"] == "channel-mean-std", pre["mode"]
    mean, std = (torch.tensor(pre[k]).view(1, 3, 1, 1) for k in ("mean", "std"))
    model = ResNet20()
    print(model.load_state_dict(load_file(checkpoint), strict=True))
    test_x, test_y = (as_tensor(data["test"][0]) - mean) / std, torch.tensor(data["test"][1])
    print(f"test accuracy {accuracy(model, test_x, test_y):.4f} of {checkpoint} in PyTorch {torch.__version__}")


def bench(batch, steps, threads):
    """Images per second of training steps and of inference batches, after one untimed step of each."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ResNet20()
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)

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
    print(f"resnet20 batch {batch}, {threads} threads: {train:.1f} training images/s, {infer:.1f} inference images/s "
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
