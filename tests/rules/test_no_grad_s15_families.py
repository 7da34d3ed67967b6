"""TRN102 families met on unseen code (session 15), through the real command.

Each family has its bug and the correct look-alike a naive matcher would flag:
- a preview batch drawn with the iterator's method (`images, labels = dataiter.next()`, the
  pre-2.0 tutorials' form) is the iterator's data: after `dataiter = iter(testloader)` the
  prediction on it is on test data, even when a training preview above bound the same names
  (`dataiter = iter(trainloader)`); under `no_grad`, or when the iterator in force is the
  training one, it is not flagged;
- a composite module built from models it is handed (`GreedySearchDecoder(encoder, decoder)`,
  `Seq2Seq(enc, dec)`) holds their parameters: its forward pass records a graph, although its
  own `__init__` builds no layer; a module built from numbers alone (`Blur(3)`) holds none;
- a helper's parameter named like nothing in particular (`searcher`) is a model when a caller
  of the file hands it one; a helper handed a plain function is not evaluating a model;
- a `no_grad` block that only aliases the input (`with torch.no_grad(): noisev = noise`, a
  port of `Variable(noise, volatile=True)`) ends before the forward pass below it: the sample
  generation runs with autograd on; look-alikes: the forward pass inside the block, and a GAN
  critic's step whose detached generator batch feeds a loss that is back-propagated;
- a generator sampled from noise in a plotting function of a file that trains the GAN: the
  samples are only drawn, the graph is wasted (sampling is not evaluation for TRN101, a GAN
  may sample in training mode on purpose, but no_grad costs nothing); look-alikes: the same
  under no_grad, and a sampler that hands the samples back (its caller may train on them);
- a warm-up call of an inference script whose output is thrown away (`_ = model(zeros)  #
  run once`, YOLO's detect/test scripts) evaluates nothing: not flagged; the detection loop
  after it, without no_grad, is.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\nimport torchvision\n\n"

PREVIEW = HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))


trainset = torchvision.datasets.CIFAR10(root="./data", train=True)
trainloader = torch.utils.data.DataLoader(trainset, batch_size=4, shuffle=True)
testset = torchvision.datasets.CIFAR10(root="./data", train=False)
testloader = torch.utils.data.DataLoader(testset, batch_size=4, shuffle=False)
net = Net()
optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
for inputs, labels in trainloader:
    optimizer.zero_grad()
    nn.functional.cross_entropy(net(inputs), labels).backward()
    optimizer.step()

dataiter = iter(trainloader)
images, labels = dataiter.next()
print(images.shape)
dataiter = iter({second})
images, labels = dataiter.next()
{predict}
print(outputs.argmax(1), labels)
"""

SEARCHER = HEAD + """
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 4)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.gru(self.drop(x))[0]


class {wrapper_class}


def evaluate(searcher, vocab, sentence):
    batch = torch.tensor([[vocab.index(w) for w in sentence.split()]], dtype=torch.float)
    tokens = searcher(batch)
    return [vocab[int(t)] for t in tokens.flatten()]


def chat(searcher, vocab):
    while True:
        sentence = input("> ")
        if sentence == "q":
            break
        {chat_call}


encoder = Encoder()
decoder = Encoder()
optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()))
for step in range(10):
    optimizer.zero_grad()
    decoder(encoder(torch.randn(2, 3, 4))).sum().backward()
    optimizer.step()
encoder.eval()
decoder.eval()
searcher = {searcher_value}
chat(searcher, ["a", "b"])
"""

GREEDY = """GreedySearch(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        return self.decoder(self.encoder(x)).argmax(-1)"""

BLUR = """Blur(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.register_buffer("kernel", torch.ones(size) / size)

    def forward(self, x):
        return x * self.kernel.mean()"""

SAMPLES = HEAD + """
class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 4))

    def forward(self, z):
        return self.net(z)


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x)


def generate_image(netG, noise):
    with torch.no_grad():
        {sample}
    return samples.view(-1, 2, 2)


def train(netG, netD, loader, opt_d, critic_iters=5):
    for real in loader:
        for _ in range(critic_iters):
            opt_d.zero_grad()
            noise = torch.randn(real.shape[0], 8)
            with torch.no_grad():
                noisev = noise
            fake = netG(noisev).detach()
            loss = netD(fake).mean() - netD(real).mean()
            loss.backward()
            opt_d.step()
    return generate_image(netG, torch.randn(16, 8))


generator = Generator()
critic = Critic()
images = train(generator, critic, [torch.randn(4, 4)], torch.optim.Adam(critic.parameters()))
torchvision.utils.save_image(images, "samples.png")
"""

PLOTTED = '''
import torch
import torch.nn as nn
import matplotlib.pyplot as plt

generator = nn.Sequential(nn.Linear(100, 64), nn.BatchNorm1d(64), nn.Linear(64, 784), nn.Tanh())
discriminator = nn.Sequential(nn.Linear(784, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1), nn.Sigmoid())
criterion = nn.BCELoss()
opt_g = torch.optim.Adam(generator.parameters())
opt_d = torch.optim.Adam(discriminator.parameters())
loader = [torch.randn(32, 784) for _ in range(10)]


def visualize(generator, epoch):
    z = torch.randn(64, 100)
{sample}


for epoch in range(5):
    for imgs in loader:
        ones = torch.ones(imgs.size(0), 1)
        zeros = torch.zeros(imgs.size(0), 1)
        opt_d.zero_grad()
        z = torch.randn(imgs.size(0), 100)
        fake = generator(z)
        d_loss = criterion(discriminator(imgs), ones) + criterion(discriminator(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = criterion(discriminator(fake), ones)
        g_loss.backward()
        opt_g.step()
    visualize(generator, epoch)
'''

PLOT_SAMPLES = """    fake_images = generator(z)
    fake_images = fake_images.view(-1, 28, 28).detach().numpy()
    for i in range(64):
        plt.subplot(8, 8, i + 1)
        plt.imshow(fake_images[i], cmap="gray")
    plt.savefig(f"epoch_{epoch}.png")"""

WARM_UP = HEAD + """
def detect(weights, paths):
    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(weights))
    model.eval()
    _ = model(torch.zeros(1, 3, 224, 224)) if torch.cuda.is_available() else None  # run once
    for path in paths:
        image = torchvision.io.read_image(path).float().unsqueeze(0)
        {detect}
        print(path, scores.argmax(1).item())


detect("weights.pt", ["a.jpg", "b.jpg"])
"""

CASES = {
    "warm_up_then_no_grad_ok.py": WARM_UP.format(detect="with torch.no_grad():\n            scores = model(image)"),
    "warm_up_then_graph_bad.py": WARM_UP.format(detect="scores = model(image)"),
    "plotted_samples_bad.py": PLOTTED.format(sample=PLOT_SAMPLES),
    "plotted_samples_no_grad_ok.py": PLOTTED.format(sample="    with torch.no_grad():\n" + PLOT_SAMPLES.replace("\n", "\n    ")
                                                     .replace("    fake_images = generator", "        fake_images = generator", 1)),
    "returned_samples_ok.py": PLOTTED.format(sample="    fake_images = generator(z)\n    return fake_images"),
    "alias_only_no_grad_bad.py": SAMPLES.format(sample="noisev = noise\n    samples = netG(noisev)"),
    "forward_inside_no_grad_ok.py": SAMPLES.format(sample="noisev = noise\n        samples = netG(noisev)"),
    "preview_test_batch_bad.py": PREVIEW.format(second="testloader", predict="outputs = net(images)"),
    "preview_test_batch_no_grad_ok.py": PREVIEW.format(
        second="testloader", predict="with torch.no_grad():\n    outputs = net(images)"),
    "preview_train_batch_ok.py": PREVIEW.format(second="trainloader", predict="outputs = net(images)"),
    "composite_searcher_bad.py": SEARCHER.format(
        wrapper_class=GREEDY, chat_call="print(evaluate(searcher, vocab, sentence))",
        searcher_value="GreedySearch(encoder, decoder)"),
    "composite_searcher_no_grad_ok.py": SEARCHER.format(
        wrapper_class=GREEDY,
        chat_call="with torch.no_grad():\n            print(evaluate(searcher, vocab, sentence))",
        searcher_value="GreedySearch(encoder, decoder)"),
    "parameter_free_searcher_ok.py": SEARCHER.format(
        wrapper_class=BLUR, chat_call="print(evaluate(searcher, vocab, sentence))", searcher_value="Blur(3)"),
    "plain_function_searcher_ok.py": SEARCHER.format(
        wrapper_class=GREEDY, chat_call="print(evaluate(searcher, vocab, sentence))",
        searcher_value="torch.sigmoid"),
}

EXPECTED = {
    "warm_up_then_no_grad_ok.py": [],
    "warm_up_then_graph_bad.py": [("TRN102", 13)],
    "plotted_samples_bad.py": [("TRN102", 15)],
    "plotted_samples_no_grad_ok.py": [],
    "returned_samples_ok.py": [],
    "alias_only_no_grad_bad.py": [("TRN102", 27)],
    "forward_inside_no_grad_ok.py": [],
    "preview_test_batch_bad.py": [("TRN102", 32)],
    "preview_test_batch_no_grad_ok.py": [],
    "preview_train_batch_ok.py": [],
    "composite_searcher_bad.py": [("TRN102", 28)],
    "composite_searcher_no_grad_ok.py": [],
    "parameter_free_searcher_ok.py": [],
    "plain_function_searcher_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("no_grad_s15_families"), CASES, "TRN102")


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_grad_s15_family(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]
