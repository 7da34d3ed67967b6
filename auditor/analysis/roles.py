"""What each name is: model, optimizer, loss (which kind), scheduler, scaler, transformer.

Roles come from evidence in the file: the constructor a name is bound to (resolved
through imports), a parameter's annotation, what is done with it (`opt =
Adam(net.parameters())` makes `net` a model), and, for parameters and values from
unknown calls only, the words of the name (`model`, `net`, `optimizer`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional, Union

import libcst as cst

from auditor.analysis.module_methods import SELF_RETURNING
from auditor.analysis.factories import factory_of
from auditor.analysis.model import Binding, ClassInfo, FileModel, FunctionInfo, bind_arguments
from auditor.analysis.model_zoos import zoo_model
from auditor.analysis.transformer_containers import contained_transformer
from auditor.analysis.names import dotted_name, matches
from auditor.analysis.splits import name_tokens

MODULE_BASES = (
    "torch.nn.Module", "torch.nn.modules.module.Module",
    "lightning.pytorch.LightningModule", "lightning.LightningModule", "pytorch_lightning.LightningModule",
    "transformers.PreTrainedModel",
)
LIGHTNING_BASES = ("lightning.pytorch.LightningModule", "lightning.LightningModule",
                   "pytorch_lightning.LightningModule", "pytorch_lightning.core.LightningModule",
                   "lightning.pytorch.core.LightningModule")
# torch.nn names that are not module classes.
NOT_MODULES = {"Parameter", "UninitializedParameter", "Buffer", "functional", "init", "utils"}
# nn.* constructors that are not modules one calls for a forward pass of the model.
_NN_NOT_MODELS = {"Parameter", "ParameterList", "ParameterDict", "ModuleList", "ModuleDict", "Identity",
                  "Softmax", "LogSoftmax", "Sigmoid", "Dropout", "ReLU", "Flatten"}
MODEL_WORDS = {"model", "net", "network", "classifier", "regressor", "encoder", "decoder", "generator",
               "discriminator", "backbone", "mlp", "cnn", "rnn", "lstm", "vae", "autoencoder", "teacher",
               "student", "transformer", "resnet", "unet", "gpt", "bert", "clf", "predictor"}
# Methods that only a torch module has: a name they are called on is a model.
_MODULE_ONLY_METHODS = frozenset({"eval", "parameters", "named_parameters", "modules", "named_modules", "children"})
# Text front ends: calling one tokenizes or preprocesses, it is not a model's forward pass.
NOT_MODEL_WORDS = {"tokenizer", "tokenizers", "detokenizer", "processor", "processors", "tokenize",
                   "transform", "transforms", "augment", "augmentation", "augmentations", "preprocess"}
NOT_MODEL_CLASS_PARTS = ("Tokenizer", "Processor", "FeatureExtractor", "Config")
# Models of other frameworks: torch's grad and train/eval modes mean nothing to them.
_OTHER_FRAMEWORK_CLASSES = ("TF", "Flax")
# `build_model(cfg)`, `self.get_model()`: a name that says it makes or fetches a model.
BUILDER_VERBS = {"build", "make", "create", "get", "load", "init", "setup", "construct", "instantiate",
                 "prepare", "new"}
OPTIMIZER_WORDS = {"optimizer", "optim", "opt", "optimiser", "optimizers"}
SCHEDULER_WORDS = {"scheduler", "sched", "lr", "schedule", "warmup"}
TRANSFORMER_MODULES = ("sklearn.preprocessing", "sklearn.decomposition", "sklearn.impute",
                       "sklearn.feature_extraction", "sklearn.feature_selection", "sklearn.pipeline",
                       "sklearn.compose", "sklearn.random_projection", "sklearn.manifold",
                       "sklearn.kernel_approximation", "sklearn.cross_decomposition",
                       # darts' `Scaler` (a scikit-learn scaler fitted on a TimeSeries), `BoxCox`, ...
                       "darts.dataprocessing.transformers")
# Manifold embeddings without `transform`: fitted to draw a picture, never applied to other data.
_EMBEDDINGS_FOR_PLOTS = {"TSNE", "MDS", "SpectralEmbedding"}
# scikit-learn transformers known by a name no other library commonly gives a class. A call of
# one that the file neither imports nor defines (a snippet or notes file that assumes the
# import, or `from sklearn.preprocessing import *`) is that transformer.
_SKLEARN_TRANSFORMER_NAMES = frozenset({
    "StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "QuantileTransformer", "PowerTransformer",
    "SimpleImputer", "KNNImputer", "IterativeImputer", "KernelPCA", "IncrementalPCA", "TruncatedSVD", "FastICA",
    "FactorAnalysis", "Isomap", "LocallyLinearEmbedding", "TfidfVectorizer", "CountVectorizer", "TfidfTransformer",
    "SelectKBest", "VarianceThreshold", "KBinsDiscretizer", "LabelEncoder", "OneHotEncoder", "OrdinalEncoder",
    "LabelBinarizer", "MultiLabelBinarizer", "PolynomialFeatures", "FunctionTransformer", "Normalizer", "Binarizer",
    "PCA", "ColumnTransformer", "make_column_transformer", "make_pipeline",
})
LOSS_CLASSES = {
    "ce": ("torch.nn.CrossEntropyLoss",),
    "bce_logits": ("torch.nn.BCEWithLogitsLoss",),
    "nll": ("torch.nn.NLLLoss",),
}
LOSS_FUNCTIONS = {
    "ce": ("torch.nn.functional.cross_entropy",),
    "bce_logits": ("torch.nn.functional.binary_cross_entropy_with_logits",),
    "nll": ("torch.nn.functional.nll_loss",),
}


_UNSET = object()  # a memo's answer not computed yet (None is an answer)


_CALLS_BY_NAME = "roles.calls_by_plain_name"  # FileModel.cache key: callee name -> [CallSite]


def _words(name: Optional[str]) -> set[str]:
    return set(name_tokens(name)) if name else set()


# The conventional names of torch modules that a star-imported module of the project
# (`from model import *`, which did `import torch.nn as nn`) hands to the importing file.
_STAR_TORCH_HEADS = {"nn": "torch.nn", "F": "torch.nn.functional"}


def star_torch_name(model: FileModel, node: cst.BaseExpression) -> Optional[str]:
    """`nn.CrossEntropyLoss` in a file that never imports or binds `nn` but star-imports
    (`from model import *`): the name can only come from that import, and is torch's."""
    if not model.imports.stars:
        return None
    name = dotted_name(node)
    head, _, rest = (name or "").partition(".")
    if not rest or head not in _STAR_TORCH_HEADS or head in model.imports.aliases or model.bindings.get(head):
        return None
    return f"{_STAR_TORCH_HEADS[head]}.{rest}"


def is_module_class(model: FileModel, cls: Union[ClassInfo, cst.ClassDef, None]) -> bool:
    """The one definition of a model class: a class deriving (directly or through the
    file's own classes) from a torch.nn module class, a Lightning module or a
    transformers model."""
    if isinstance(cls, cst.ClassDef):
        cls = next((info for info in model.class_info.values() if info.node is cls), None)
    return _derives_from(model, cls, _is_module_base, set())


def is_lightning_class(model: FileModel, cls: Optional[ClassInfo]) -> bool:
    return _derives_from(model, cls, _is_lightning_base, set())


def _is_module_base(base: str) -> bool:
    if matches(base, *MODULE_BASES) or is_torch_nn_class(base) or _is_lightning_base(base):
        return True
    # Unresolved names (a star import, a re-export the file cannot see).
    return base in ("nn.Module", "Module", "LightningModule")


def is_torch_nn_class(qualified: Optional[str]) -> bool:
    """`torch.nn.Linear`, `torch.nn.modules.linear.Linear`: a module class of torch.nn."""
    if not qualified or not qualified.startswith("torch.nn."):
        return False
    last = qualified.rsplit(".", 1)[-1]
    return last[:1].isupper() and last not in NOT_MODULES and ".functional." not in qualified


def _is_lightning_base(base: str) -> bool:
    return base.rsplit(".", 1)[-1] == "LightningModule" or matches(base, *LIGHTNING_BASES)


def _derives_from(model: FileModel, cls: Optional[ClassInfo], is_root: Callable[[str], bool], seen: set) -> bool:
    """Whether a base of `cls`, or of the local classes it derives from, satisfies `is_root`."""
    if cls is None or cls.name in seen:
        return False
    seen.add(cls.name)
    for base in cls.bases:
        if is_root(base):
            return True
        if _derives_from(model, model.class_info.get(base.rsplit(".", 1)[-1]), is_root, seen):
            return True
    return False


_OTHER_FRAMEWORKS = ("tensorflow", "keras", "tf_keras", "jax", "flax", "haiku", "mxnet", "paddle",
                     # inference runtimes that run an exported model (IR, ONNX, engine files)
                     "openvino", "onnxruntime", "tensorrt")


def other_framework(qualified: Optional[str]) -> bool:
    """A model of another framework (`tf.keras.Sequential`, `TFAutoModel.from_pretrained`,
    `FlaxBertModel`): torch's train/eval modes and grad modes do not apply to it."""
    if not qualified:
        return False
    if qualified.split(".", 1)[0] in _OTHER_FRAMEWORKS:
        return True
    if qualified.startswith("transformers."):
        names = qualified.split(".")[1:]
        return any(name.startswith(("TF", "Flax")) and name[len("TF" if name.startswith("TF") else "Flax"):][:1].isupper()
                   for name in names)
    return False


def model_class_of_call(model: FileModel, call: cst.Call) -> Optional[ClassInfo]:
    name = dotted_name(call.func)
    if name and "." not in name:
        cls = model.class_info.get(name)
        if cls is not None and is_module_class(model, cls) and not _loss_wrapper(model, cls):
            return cls
    return None


def _loss_wrapper(model: FileModel, cls: ClassInfo) -> bool:
    """`LabelSmoothing(nn.Module)` keeping `nn.KLDivLoss` and numbers: a criterion, no model."""
    from auditor.analysis.loss_modules import is_loss_wrapper

    found = model.cache.setdefault("roles.loss_wrappers", {})
    if cls.name not in found:
        found[cls.name] = is_loss_wrapper(model, cls)
    return found[cls.name]


def model_constructor(model: FileModel, call: cst.Call) -> Optional[str]:
    """The model a call constructs (`Net`, `nn.Sequential`, `resnet18`), else None."""
    cls = model_class_of_call(model, call)
    if cls is not None:
        return cls.name
    qualified = model.qualify_call(call)
    if not qualified:
        looked_up = _constructor_looked_up(model, call.func)
        if looked_up is not None:
            return looked_up
        # `get_model("LeNet")`: a function of the file that returns a newly built model.
        factory = factory_of(model, call, lambda inner: model_constructor(model, inner) is not None)
        return f"{factory.name}" if factory is not None else None
    last = qualified.rsplit(".", 1)[-1]
    if qualified.startswith("torch.nn.") and qualified.count(".") == 2 and last[:1].isupper() \
            and not last.endswith("Loss") and last not in _NN_NOT_MODELS:
        return last
    if qualified.startswith("torchvision.models.") and last[:1].islower() and not last.startswith("get_"):
        return last
    if qualified in ("timm.create_model",):
        return "timm model"
    zoo = zoo_model(qualified)
    if zoo is not None:
        return zoo
    if qualified.startswith("torch.nn.parallel.") or last in ("DataParallel", "DistributedDataParallel"):
        return last
    return None


def _constructor_looked_up(model: FileModel, func: cst.BaseExpression) -> Optional[str]:
    """A torchvision constructor chosen by name at run time: `models.__dict__[args.arch](...)`
    or `getattr(models, name)(...)` with `models` being `torchvision.models` (the ImageNet
    example's idiom and its many forks). Every public callable there builds a model."""
    namespace = None
    if type(func) is cst.Subscript and type(func.value) is cst.Attribute and func.value.attr.value == "__dict__":
        namespace = func.value.value
    elif type(func) is cst.Call and dotted_name(func.func) == "getattr" and len(func.args) == 2:
        namespace = func.args[0].value
    if namespace is None:
        return None
    qualified = model.qualify(namespace)
    if qualified in ("torchvision.models", "torchvision.models.video", "torchvision.models.segmentation",
                     "torchvision.models.detection"):
        return f"a {qualified} model"
    return None


def _fresh_model_value(model: FileModel, value: cst.BaseExpression) -> Optional[str]:
    """`Net()`, `Net().to(dev)`, `nn.Sequential(...)`: a newly built model (in train mode)."""
    # Exact types here and below (Call, Attribute and Name have no subclasses): an isinstance
    # against a libcst class is a Python-level ABC check.
    while type(value) is cst.Call and type(value.func) is cst.Attribute \
            and value.func.attr.value in SELF_RETURNING + ("train",):
        value = value.func.value
    if type(value) is cst.Call:
        return model_constructor(model, value)
    return None


class Roles:
    """Role queries over one file model, memoised."""

    def __init__(self, model: FileModel) -> None:
        self.model = model
        self._model_memo: dict[tuple, Optional[str]] = {}  # (name, function) -> evidence
        self._optimizer_args: Optional[set[str]] = None
        self._names_of_functions: Optional[set[str]] = None
        self._loss_kinds: dict[tuple, Optional[str]] = {}  # (call, callee, function) -> kind

    # -- models ---------------------------------------------------------------------
    def fresh_model(self, value: cst.BaseExpression) -> Optional[str]:
        return _fresh_model_value(self.model, value)

    def _params_to_optimizers(self) -> set[str]:
        """Names whose `.parameters()` reach an optimizer constructor anywhere in the file."""
        if self._optimizer_args is None:
            found: set[str] = set()
            for site in self.model.calls:
                if site.method == "parameters" and site.receiver is not None:
                    name = dotted_name(site.receiver)
                    if name:
                        found.add(name)
            self._optimizer_args = found
        return self._optimizer_args

    def model_evidence(self, name: Optional[str], function: Optional[cst.FunctionDef]) -> Optional[str]:
        """Why `name` (as written in `function`) is a model, or None."""
        if not name:
            return None
        key = (name, function)
        evidence = self._model_memo.get(key, _UNSET)
        if evidence is _UNSET:
            self._model_memo[key] = None  # recursion guard
            evidence = self._model_memo[key] = self._model_evidence(name, function, 0)
        return evidence

    def is_model(self, name: Optional[str], function: Optional[cst.FunctionDef]) -> bool:
        return self.model_evidence(name, function) is not None

    def _model_evidence(self, name: str, function, depth: int) -> Optional[str]:
        model = self.model
        if name == "self":
            return "self" if is_module_class(model, model.class_of(function)) else None
        if model.info(function) is None and function is not None:
            return None
        if _words(name) & NOT_MODEL_WORDS:
            return None  # `tokenizer(text)`, `self.processor(images=...)`
        if name.startswith("self.") and name.count(".") == 1 and \
                self._is_own_method(name[5:], model.class_of(function)):
            return None  # `self._test_model(...)`: a method of the class, not a module
        if name in model.class_info or name in self._function_names():
            return None
        bindings = model.bindings_of(name, function)
        unknown_value = not bindings
        for b in bindings:
            verdict = self._binding_evidence(b, name, depth)
            if verdict == "no":
                continue
            if verdict == "unknown":
                unknown_value = True
                continue
            return verdict
        if name in self._params_to_optimizers():
            return "its parameters are optimised"
        if not bindings and "." not in name:
            return None  # bound nowhere in the file: a star-imported function (`evaluate_model`)
        if unknown_value and "(" not in name and "[" not in name:
            switched = self._module_method_called(name, function)
            if switched:
                return f"`{name}.{switched}()` is called"
        tokens = name_tokens(name)
        if unknown_value and tokens and tokens[-1] in MODEL_WORDS and \
                not (len(tokens) > 1 and tokens[0] in BUILDER_VERBS):
            return "name"
        return None

    def _module_method_called(self, name: str, function) -> Optional[str]:
        """A method only an `nn.Module` has, called on `name` where it is used: `net_g.eval()`
        in the same function (`self.actor.eval()` anywhere in the class for an attribute).
        Optimizers and trainers share `train()`, `state_dict()`, `zero_grad()`; not these."""
        model = self.model
        if name.startswith("self."):
            cls = model.class_of(function)
            scopes = [m.node for m in cls.methods.values()] if cls is not None else [function]
        else:
            scopes = [function]
        for scope in scopes:
            sites = model.info(scope).calls if scope is not None and model.info(scope) is not None else \
                [s for s in model.calls if s.function is None]
            for site in sites:
                if site.method in _MODULE_ONLY_METHODS and site.receiver is not None and \
                        (site.method != "eval" or not site.node.args) and dotted_name(site.receiver) == name:
                    return site.method
        return None

    def _function_names(self) -> set[str]:
        """Names of the file's functions and methods (asked for every name that might be a model)."""
        if self._names_of_functions is None:
            self._names_of_functions = {i.name for i in self.model.function_info.values()}
        return self._names_of_functions

    def _is_own_method(self, attr: str, cls: Optional[ClassInfo], seen: Optional[set] = None) -> bool:
        """`attr` is a method defined by `cls` or by one of its local base classes."""
        seen = seen if seen is not None else set()
        if cls is None or cls.name in seen:
            return False
        seen.add(cls.name)
        if attr in cls.methods:
            return True
        return any(self._is_own_method(attr, self.model.class_info.get(base.rsplit(".", 1)[-1]), seen)
                   for base in cls.bases)

    def _binding_evidence(self, b: Binding, name: str, depth: int) -> str:
        """A description, "unknown" (could be a model: fall back to the name) or "no"."""
        model = self.model
        if b.kind == "param":
            info = model.info(b.function)
            annotation = info.annotations.get(name) if info else None
            if annotation:
                qualified = model.imports.qualify_dotted(annotation) or annotation
                last = qualified.rsplit(".", 1)[-1]
                if last in ("Module", "LightningModule", "PreTrainedModel") or \
                        is_module_class(model, model.class_info.get(last)):
                    return f"annotated {last}"
                return "no"
            return self._handed_model(b, name, depth) or "unknown"
        if b.index is not None or b.kind == "for":
            return "unknown" if b.kind != "for" else "no"
        value = b.value
        if type(value) is cst.IfExp and depth < 4:
            # `nn.DataParallel(net) if multi_gpu else net`: a model on either branch.
            verdicts = [self._binding_evidence(replace(b, value=branch), name, depth + 1)
                        for branch in (value.body, value.orelse)]
            found = [v for v in verdicts if v not in ("no", "unknown")]
            return found[0] if found else "no"  # as before for anything else: not read as a model
        fresh = _fresh_model_value(model, value)
        if fresh:
            return f"built by {fresh}()"
        if type(value) is cst.Call:
            qualified = model.qualify_call(value)
            callee = dotted_name(value.func) or ""
            if other_framework(qualified):
                return "no"  # a TensorFlow/Keras/JAX model: torch's modes and no_grad do not apply
            if qualified and qualified.endswith(".from_pretrained") and qualified.startswith("transformers."):
                loaded = qualified.rsplit(".", 2)[-2]
                if any(part in loaded for part in NOT_MODEL_CLASS_PARTS):
                    return "no"  # AutoTokenizer, AutoProcessor, AutoConfig, ...
                if other_framework_model(model, value):
                    return "no"  # TFAutoModel..., FlaxBertModel: TensorFlow/JAX, no torch autograd or mode
                return "loaded with from_pretrained()"
            if qualified in ("copy.deepcopy", "torch.compile") or callee.endswith((".to", ".cuda")):
                inner = value.args[0].value if qualified and value.args else \
                    (value.func.value if type(value.func) is cst.Attribute else None)
                inner_name = dotted_name(inner) if inner is not None else None
                if inner_name and depth < 4 and inner_name != name and \
                        self._model_evidence(inner_name, b.function, depth + 1):
                    return f"a copy of `{inner_name}`"
            if qualified in ("torch.jit.load", "torch.hub.load"):
                return f"loaded with {qualified}()"
            if qualified in ("torch.load", "torch.serialization.load"):
                return "unknown"  # a whole pickled model, or a state dict: the name tells
            if qualified and qualified.startswith(("torch.", "numpy", "sklearn", "pandas")) or \
                    other_framework_model(model, value):
                return "no"
            if qualified == "transformers.pipeline":
                return "no"  # a pipeline object: it runs its model under no_grad itself
            return "unknown"
        if type(value) is cst.Name or type(value) is cst.Attribute:
            other = dotted_name(value)
            if other and other != name and depth < 4 and self._model_evidence(other, b.function, depth + 1):
                return f"`{other}`"
            return "unknown" if type(value) is cst.Attribute else "no"
        return "no"

    def _handed_model(self, b: Binding, name: str, depth: int) -> Optional[str]:
        """A parameter of a plain function of this file that a caller hands a model
        (`evaluate(encoder, decoder, searcher, ...)` called with `searcher =
        GreedySearchDecoder(...)`), whatever the parameter is named."""
        model = self.model
        info = model.info(b.function)
        if depth >= 3 or info is None or info.cls is not None or len(model.functions_named(info.name)) != 1:
            return None
        index = model.cache.get(_CALLS_BY_NAME)
        if index is None:
            index = model.cache[_CALLS_BY_NAME] = {}
            for site in model.calls:
                if site.qualname is None and site.callee and "." not in site.callee:
                    index.setdefault(site.callee, []).append(site)
        for site in index.get(info.name, ()):
            if site.function is b.function:
                continue  # a recursive call hands back what it was given
            argument = bind_arguments(info, site.node, False).get(name)
            if type(argument) is cst.Call and model_constructor(model, argument) is not None:
                return f"a caller hands it {model_constructor(model, argument)}()"
            other = dotted_name(argument) if argument is not None else None
            if other and self._model_evidence(other, site.function, depth + 1):
                return f"a caller hands it `{other}`"
        return None

    # -- optimizers, schedulers, losses -------------------------------------------------
    def is_optimizer(self, name: Optional[str], function, depth: int = 0) -> bool:
        if not name:
            return False
        for b in self.model.bindings_of(name, function):
            if b.kind == "for" and b.index is None and depth < 2 and \
                    self._optimizer_collection(b.value, function, depth + 1):
                return True  # `for o in opts:` over a list of optimizers
            if type(b.value) is cst.Call and b.kind == "assign":
                qualified = self.model.qualify_call(b.value) or ""
                if qualified.startswith("torch.optim.") and "lr_scheduler" not in qualified:
                    return True
                if "schedul" in qualified.lower():
                    continue  # `transformers.optimization.get_linear_schedule_with_warmup`: a scheduler
                if qualified.startswith(("transformers.", "timm.optim", "bitsandbytes")) and \
                        "optim" in qualified.lower() or qualified.endswith(("AdamW", "Adafactor")):
                    return True
        words = _words(name)
        return bool(words & OPTIMIZER_WORDS) and not words & SCHEDULER_WORDS

    def _optimizer_collection(self, expr: cst.BaseExpression, function, depth: int) -> bool:
        """`[opt_g, opt_d]`, `[Adam(...), Adam(...)]`, `self.optimizers`, `opts.values()`: a
        collection whose elements are optimizers."""
        if type(expr) is cst.Call and dotted_name(expr.func) in ("enumerate", "reversed") and expr.args:
            return depth < 3 and self._optimizer_collection(expr.args[0].value, function, depth + 1)
        if type(expr) is cst.Call and type(expr.func) is cst.Attribute and expr.func.attr.value == "values":
            expr = expr.func.value
        if type(expr) in (cst.List, cst.Tuple):
            return bool(expr.elements) and all(self._optimizer_element(e.value, function, depth)
                                               for e in expr.elements if type(e) is cst.Element)
        if type(expr) is cst.Dict:  # iterated through `.values()`
            return bool(expr.elements) and all(self._optimizer_element(e.value, function, depth)
                                               for e in expr.elements if type(e) is cst.DictElement)
        name = dotted_name(expr)
        if name is None:
            return False
        words = _words(name)
        if words & OPTIMIZER_WORDS and not words & SCHEDULER_WORDS:
            return True
        return depth < 3 and any(b.kind == "assign" and type(b.value) in (cst.List, cst.Tuple, cst.Dict)
                                 and self._optimizer_collection(b.value, function, depth + 1)
                                 for b in self.model.bindings_of(name, function))

    def _optimizer_element(self, expr: cst.BaseExpression, function, depth: int) -> bool:
        if type(expr) is cst.Call:
            qualified = self.model.qualify_call(expr) or ""
            return qualified.startswith("torch.optim.") and "lr_scheduler" not in qualified
        name = dotted_name(expr)
        return name is not None and self.is_optimizer(name, function, depth + 1)

    def loss_kind_of_callee(self, site_callee: Optional[str], call: cst.Call, function) -> Optional[str]:
        """'ce', 'bce_logits' or 'nll' for a loss call (functional, object, or inline object)."""
        # Three loss rules and the accumulation analysis ask this of every call.
        key = (call, site_callee, function)
        kind = self._loss_kinds.get(key, _UNSET)
        if kind is _UNSET:
            kind = self._loss_kinds[key] = self._loss_kind_of_callee(site_callee, call, function)
        return kind

    def _loss_kind_of_callee(self, site_callee: Optional[str], call: cst.Call, function) -> Optional[str]:
        model = self.model
        qualified = model.qualify_call(call) or star_torch_name(model, call.func)
        if qualified is not None:
            for kind, names in LOSS_FUNCTIONS.items():
                if matches(qualified, *names):
                    return kind
        if type(call.func) is cst.Call:  # exact type: Call has no subclasses
            return self._loss_class_kind(call.func)
        if site_callee is None or qualified is not None:
            return None
        if site_callee.endswith(".forward"):  # `loss_fn.forward(p, y)` is `loss_fn(p, y)` without hooks
            site_callee = site_callee[:-len(".forward")]
        kinds = set()
        for b in model.bindings_of(site_callee, function):
            if b.kind != "assign" or type(b.value) is not cst.Call:
                return None
            kinds.add(self._loss_class_kind(b.value))
        return kinds.pop() if len(kinds) == 1 else None

    def _loss_class_kind(self, call: cst.Call) -> Optional[str]:
        qualified = self.model.qualify_call(call) or star_torch_name(self.model, call.func)
        for kind, names in LOSS_CLASSES.items():
            if matches(qualified, *names):
                return kind
        return None

    # -- scikit-learn ------------------------------------------------------------------
    def transformer_constructor(self, call: cst.Call) -> Optional[str]:
        qualified = self.model.qualify_call(call)
        if qualified and qualified.startswith(TRANSFORMER_MODULES) and \
                qualified.rsplit(".", 1)[-1] not in _EMBEDDINGS_FOR_PLOTS:
            return qualified.rsplit(".", 1)[-1]
        if qualified is None and type(call.func) is cst.Name and call.func.value in _SKLEARN_TRANSFORMER_NAMES \
                and self._unbound_sklearn_name(call.func.value):
            return call.func.value
        return None

    def _unbound_sklearn_name(self, name: str) -> bool:
        """`name` is bound nowhere in the file (no import, definition or assignment of it),
        and any star import is scikit-learn's: the name can only mean the library's class."""
        model = self.model
        if any(not star.startswith("sklearn") for star in model.imports.stars) or model.bindings.get(name):
            return False
        return not any(c.name == name for c in model.class_info.values()) and \
            not any(i.name == name for i in model.function_info.values())

    def transformer_evidence(self, receiver: cst.BaseExpression, function) -> Optional[str]:
        """The transformer class a `.fit` receiver is, through chains and variables."""
        node = receiver
        while type(node) is cst.Call and type(node.func) is cst.Attribute and \
                node.func.attr.value in ("set_params", "set_output"):
            node = node.func.value
        if type(node) is cst.Call:
            return self.transformer_constructor(node)
        if type(node) is cst.Subscript:  # `scalers[col].fit_transform(...)`
            return contained_transformer(self.model, node, function, self.transformer_constructor)
        name = dotted_name(node)
        if not name:
            return None
        found = None
        for b in self.model.bindings_of(name, function):
            if b.kind == "assign" and b.index is None and type(b.value) is cst.Call:
                found = self.transformer_constructor(b.value) or found
            elif b.kind == "assign" and b.index is None and type(b.value) is cst.Subscript:
                # `sc = scalers[col]` (one scaler per column, kept in a dict or a list)
                found = contained_transformer(self.model, b.value, b.function, self.transformer_constructor) \
                    or found
        return found


def other_framework_model(model: FileModel, value: cst.BaseExpression) -> bool:
    """A value built by another framework (`TFAutoModelForQuestionAnswering.from_pretrained(...)`,
    `tf.keras.Sequential(...)`): torch's grad and train/eval modes mean nothing to it."""
    if type(value) is not cst.Call:
        return False
    qualified = model.qualify_call(value)
    if not qualified:
        return False
    if qualified.startswith(_OTHER_FRAMEWORKS):
        return True
    if qualified.startswith("transformers."):
        parts = qualified.split(".")
        loaded = parts[-2] if parts[-1] == "from_pretrained" and len(parts) > 2 else parts[-1]
        return loaded.startswith(_OTHER_FRAMEWORK_CLASSES)
    return False


def roles_of(model: FileModel) -> Roles:
    roles = model.cache.get("roles")
    if roles is None:
        roles = model.cache["roles"] = Roles(model)
    return roles


def function_trains(info: FunctionInfo) -> bool:
    """The function itself calls backward or an optimizer step."""
    for site in info.calls:
        if site.method == "backward" or (site.qualname or "").endswith("autograd.backward"):
            return True
    return False
