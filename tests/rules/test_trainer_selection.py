"""TRN204 when the epoch loop is a framework's: a Hugging Face Trainer given the test split as
its eval_dataset, or a Lightning `fit` given it as validation data, with a setting that
selects the model on it (load_best_model_at_end, EarlyStoppingCallback, ModelCheckpoint
monitor, EarlyStopping); and the look-alikes (monitoring only, validation data, a project's
own Trainer or fit). Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    "hf_load_best_on_test.py": """
from datasets import load_dataset
from transformers import Trainer, TrainingArguments

imdb = load_dataset("imdb")
args = TrainingArguments(output_dir="out", eval_strategy="epoch", save_strategy="epoch",
                         load_best_model_at_end=True)
trainer = Trainer(model=model, args=args, train_dataset=imdb["train"], eval_dataset=imdb["test"])
trainer.train()
""",
    "hf_positional_args_on_test.py": """
import transformers

def run(model, train_ds, test_ds):
    training_args = transformers.TrainingArguments("out", eval_strategy="epoch", save_strategy="epoch",
                                                   load_best_model_at_end=True, metric_for_best_model="f1")
    trainer = transformers.Trainer(model, training_args, train_dataset=train_ds, eval_dataset=test_ds)
    trainer.train()
""",
    "hf_early_stopping_on_test.py": """
from transformers import EarlyStoppingCallback, Seq2SeqTrainer

def run(model, args, data):
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data["test"],
                             callbacks=[EarlyStoppingCallback(early_stopping_patience=3)])
    trainer.train()
""",
    "hf_subclass_on_test.py": """
from transformers import Trainer, TrainingArguments

class WeightedTrainer(Trainer):
    pass

args = TrainingArguments(output_dir="out", load_best_model_at_end=True, eval_strategy="epoch",
                         save_strategy="epoch")
trainer = WeightedTrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=test_dataset)
""",
    "pl_checkpoint_on_test.py": """
import pytorch_lightning as pl
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint

def train(model, train_loader, test_loader):
    trainer = pl.Trainer(max_epochs=100, callbacks=[ModelCheckpoint(mode="max", monitor="val_acc"),
                                                    LearningRateMonitor("epoch")])
    trainer.fit(model, train_loader, test_loader)
    return trainer.test(model, dataloaders=test_loader)
""",
    "pl_early_stopping_on_test.py": """
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import EarlyStopping

stopper = EarlyStopping(monitor="val_loss", patience=5)
callbacks = [stopper]
trainer = Trainer(callbacks=callbacks)
trainer.fit(model, train_dataloaders=train_dl, val_dataloaders=test_dl)
""",
    # -- look-alikes.
    "pl_no_monitor_on_test.py": """
import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

trainer = pl.Trainer(max_epochs=10, callbacks=[ModelCheckpoint(save_last=True)])
trainer.fit(model, train_loader, test_loader)
""",
    "pl_checkpoint_on_validation.py": """
import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

trainer = pl.Trainer(callbacks=[ModelCheckpoint(monitor="val_acc", mode="max")])
trainer.fit(model, train_loader, val_loader)
trainer.test(model, dataloaders=test_loader, ckpt_path="best")
""",
    "sklearn_like_fit.py": """
class Runner:
    def fit(self, model, train, held_out):
        return model

runner = Runner()
runner.fit(model, train_loader, test_loader)
""",
    "hf_monitor_test.py": """
from transformers import Trainer, TrainingArguments

args = TrainingArguments(output_dir="out", eval_strategy="epoch")
trainer = Trainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["test"])
trainer.train()
""",
    "hf_load_best_on_validation.py": """
from transformers import Trainer, TrainingArguments

args = TrainingArguments(output_dir="out", eval_strategy="epoch", save_strategy="epoch",
                         load_best_model_at_end=True)
trainer = Trainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["validation"])
trainer.train()
print(trainer.evaluate(ds["test"]))
""",
    # The "test" part of the user's own `Dataset.train_test_split`, through dataset methods:
    # the eval set in all but name (info), unlike a loaded test split or sklearn's parts.
    "hf_load_best_on_carved_out_part.py": """
from datasets import load_dataset
from transformers import Trainer, TrainingArguments

food = load_dataset("food101", split="train[:5000]")
food = food.train_test_split(test_size=0.2)
food = food.with_transform(transforms)
args = TrainingArguments(output_dir="out", eval_strategy="epoch", save_strategy="epoch",
                         load_best_model_at_end=True)
trainer = Trainer(model=model, args=args, train_dataset=food["train"], eval_dataset=food["test"])
trainer.train()
""",
    "hf_load_best_on_sklearn_part.py": """
import sklearn.model_selection
from transformers import Trainer, TrainingArguments

train_df, test_df = sklearn.model_selection.train_test_split(df, test_size=0.2)
args = TrainingArguments(output_dir="out", load_best_model_at_end=True, eval_strategy="epoch",
                         save_strategy="epoch")
trainer = Trainer(model=model, args=args, train_dataset=to_ds(train_df), eval_dataset=to_ds(test_df))
""",
    "own_trainer_class.py": """
class Trainer:
    def __init__(self, model, args=None, train_dataset=None, eval_dataset=None):
        self.model, self.eval_dataset = model, eval_dataset

args = dict(load_best_model_at_end=True)
trainer = Trainer(model, args=args, train_dataset=train_ds, eval_dataset=test_ds)
""",
}

EXPECTED = {
    "hf_load_best_on_test.py": [("TRN204", 7)],
    "hf_positional_args_on_test.py": [("TRN204", 6)],
    "hf_early_stopping_on_test.py": [("TRN204", 4)],
    "hf_subclass_on_test.py": [("TRN204", 8)],
    "hf_monitor_test.py": [],
    "hf_load_best_on_validation.py": [],
    "own_trainer_class.py": [],
    "hf_load_best_on_carved_out_part.py": [("TRN204", 9)],
    "hf_load_best_on_sklearn_part.py": [("TRN204", 7)],
    "pl_checkpoint_on_test.py": [("TRN204", 7)],
    "pl_early_stopping_on_test.py": [("TRN204", 7)],
    "pl_no_monitor_on_test.py": [],
    "pl_checkpoint_on_validation.py": [],
    "sklearn_like_fit.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("trainers"), CASES, "TRN204")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_framework_selects_on_test(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_data_and_setting(found):
    finding = found["hf_load_best_on_test.py"][0]
    assert finding["severity"] == "error"
    assert '`imdb["test"]`' in finding["message"] and "load_best_model_at_end=True" in finding["message"]
    assert "EarlyStoppingCallback" in found["hf_early_stopping_on_test.py"][0]["message"]
    assert 'monitor="val_acc"' in found["pl_checkpoint_on_test.py"][0]["message"]
    assert "validation data of `trainer.fit`" in found["pl_checkpoint_on_test.py"][0]["message"]
    assert "eval_dataset" not in found["pl_checkpoint_on_test.py"][0]["message"]


def test_the_carved_out_test_part_is_only_a_reminder(found):
    # ds.train_test_split()'s "test" used as the eval set: a validation split in all but name.
    carved = found["hf_load_best_on_carved_out_part.py"][0]
    assert carved["severity"] == "info" and "validation data" in carved["message"]
    assert found["hf_load_best_on_sklearn_part.py"][0]["severity"] == "error"
