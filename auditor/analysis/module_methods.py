"""Methods of `nn.Module` that hand back the module itself (a leaf: no analysis imports)."""

# `net = net.type(FloatTensor)` (a 2017 idiom), `model = Net().apply(init_weights)`,
# `model.requires_grad_(False)`, `.to(device)`: the result is the same object.
SELF_RETURNING = ("to", "cuda", "cpu", "float", "double", "half", "bfloat16", "type", "apply",
                  "requires_grad_", "share_memory")
