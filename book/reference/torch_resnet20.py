"""ResNet-20 (He et al. 2016, option-A shortcuts) on the CIFAR-10 JPEG copy, with cnnlab's recipe:
SGD Nesterov 0.9, weight decay 5e-4, lr 0.1, one epoch linear warm-up then cosine to 0 (per step),
batch 128, crop with 4-pixel zero padding + horizontal flip, per-channel mean/std from the training
images, 5,000 training images held out for validation. Reports validation each epoch and the test
accuracy of the last epoch.

usage: python3 book/reference/torch_resnet20.py ../shared/data/cifar10-jpg.tar.gz EPOCHS THREADS
(needs torch and pillow; the images are decoded with PIL, cnnlab decodes them with the image crate)
"""
import io, math, sys, tarfile, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def load(path):
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


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, (cout - cin) // 2

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        s = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.pad:
            s = F.pad(s, (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in [(16, 1), (32, 2), (64, 2)]:
            for i in range(3):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x):
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(x.mean((2, 3)))


def augment(x, gen):
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=gen)
    dx = torch.randint(0, 9, (n,), generator=gen)
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


def main():
    archive, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    data = load(archive)
    x = torch.tensor(data["train"][0]).permute(0, 3, 1, 2).float() / 255
    y = torch.tensor(data["train"][1])
    order = torch.randperm(len(x), generator=gen)
    val_x, val_y, x, y = x[order[:5000]], y[order[:5000]], x[order[5000:]], y[order[5000:]]
    mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True)
    norm = lambda t: (t - mean) / std
    x, val_x = norm(x), norm(val_x)
    test_x = norm(torch.tensor(data["test"][0]).permute(0, 3, 1, 2).float() / 255)
    test_y = torch.tensor(data["test"][1])
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
        print(f"epoch {epoch + 1}/{epochs} val {accuracy(model, val_x, val_y):.4f} "
              f"({time.time() - started:.0f} s)", flush=True)
    print(f"test accuracy {accuracy(model, test_x, test_y):.4f}, {time.time() - started:.0f} s in all", flush=True)


if __name__ == "__main__":
    main()
