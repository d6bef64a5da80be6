"""The `notebook` family: the original notebook's dense, CNN and bidirectional-LSTM classifiers
re-created in PyTorch, on a word-level vocabulary built from the training split.

The vocabulary is a `tokenizers` WordLevel model, so the exported artifact is the same
`sentimentops.onnx_transformer/v1` format (ONNX graph + tokenizer.json) as MiniLM's and needs
no runtime of its own. Every architecture ignores padding: a text gets the same score alone
or in a padded batch, which the serving micro-batcher relies on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from torch import nn

from sentimentops.core.errors import InvalidInput
from sentimentops.training.config import NotebookConfig, TrainingConfig, VocabularyConfig
from sentimentops.training.families.base import (
    FitContext,
    FitData,
)
from sentimentops.training.families.encoding import Encoder
from sentimentops.training.families.torch_loop import (
    pick_device,
    seed_everything,
)
from sentimentops.training.families.trained import TrainedTorchClassifier, fit_classifier

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def _empty_tokenizer(vocab: dict[str, int]) -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))  # noqa: S106
    # Lower-case, strip accents and control characters, split words from punctuation (the
    # notebook's Keras Tokenizer lower-cased and split on spaces and punctuation too).
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def build_vocabulary(texts: Sequence[str], config: VocabularyConfig) -> Tokenizer:
    """A WordLevel tokenizer over the `config.size` most frequent words (ties broken by the
    word itself, so the vocabulary is identical on every run)."""
    probe = _empty_tokenizer({t: i for i, t in enumerate(SPECIAL_TOKENS)})
    normalizer, pre_tokenizer = probe.normalizer, probe.pre_tokenizer
    if normalizer is None or pre_tokenizer is None:  # set by _empty_tokenizer; typing needs it
        raise RuntimeError("tokenizer without normalizer or pre-tokenizer")
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    words = sorted(
        (w for w, n in counts.items() if n >= config.min_frequency and w not in SPECIAL_TOKENS),
        key=lambda w: (-counts[w], w),
    )[: config.size - len(SPECIAL_TOKENS)]
    return _empty_tokenizer({w: i for i, w in enumerate((*SPECIAL_TOKENS, *words))})


class NotebookClassifier(nn.Module):
    """Embedding → dense | CNN | BiLSTM body → dropout → dense ReLU → logits; pads ignored."""

    def __init__(self, config: NotebookConfig, vocab_size: int, n_labels: int) -> None:
        super().__init__()
        self.architecture = config.architecture
        if config.architecture == "dense":
            dim, features, hidden = (
                config.dense.embedding_dim,
                config.dense.embedding_dim,
                config.dense.hidden,
            )
        elif config.architecture == "cnn":
            dim, features, hidden = config.cnn.embedding_dim, config.cnn.filters, config.cnn.hidden
            self.conv = nn.Conv1d(
                dim, config.cnn.filters, config.cnn.kernel_size, padding=config.cnn.kernel_size // 2
            )
            # An even kernel with padding k//2 yields one extra output position; it is cut off.
        else:
            dim, hidden = config.bilstm.embedding_dim, config.bilstm.hidden
            units = config.bilstm.lstm_units
            features = 2 * units
            # Two one-way LSTMs instead of bidirectional=True: the backward one reads each text
            # reversed within its own length, so right padding never reaches it.
            self.forward_lstm = nn.LSTM(dim, units, batch_first=True)
            self.backward_lstm = nn.LSTM(dim, units, batch_first=True)
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.hidden = nn.Linear(features, hidden)
        self.out = nn.Linear(hidden, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).to(torch.float32)
        x = self.embedding(input_ids) * mask  # zero vectors at pads
        if self.architecture == "dense":
            pooled = x.sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        elif self.architecture == "cnn":
            width = input_ids.shape[1]
            conv = torch.relu(self.conv(x.transpose(1, 2)))[:, :, :width]
            # ReLU outputs are ≥ 0, so zeroing pad positions leaves the max over real ones.
            pooled = (conv * attention_mask.unsqueeze(1).to(conv.dtype)).amax(dim=2)
        else:
            pooled = self._bilstm(x, attention_mask)
        hidden = torch.relu(self.hidden(self.dropout(pooled)))
        logits: torch.Tensor = self.out(hidden)
        return logits

    def _bilstm(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        lengths = attention_mask.sum(dim=1, keepdim=True)  # [batch, 1]
        positions = torch.ones_like(attention_mask).cumsum(dim=1) - 1  # [batch, seq]
        reverse = torch.where(positions < lengths, lengths - 1 - positions, positions)
        index = reverse.unsqueeze(-1).expand(-1, -1, x.shape[2])
        forward_states, _ = self.forward_lstm(x)
        backward_states, _ = self.backward_lstm(torch.gather(x, 1, index))
        last = (lengths - 1).unsqueeze(-1)  # the state after each text's last real token
        forward_last = torch.gather(forward_states, 1, last.expand(-1, -1, forward_states.shape[2]))
        backward_last = torch.gather(
            backward_states, 1, last.expand(-1, -1, backward_states.shape[2])
        )
        return torch.cat([forward_last, backward_last], dim=2).squeeze(1)


class NotebookFamily:
    name = "notebook"

    def fit(
        self, config: TrainingConfig, data: FitData, context: FitContext
    ) -> TrainedTorchClassifier:
        if not isinstance(config, NotebookConfig):
            raise InvalidInput(f"the notebook family needs a notebook config, not {config.family}")
        device = pick_device()
        context.on_step(f"building a {config.vocabulary.size:,}-word vocabulary")
        encoder = Encoder.create(
            build_vocabulary(data.train_texts, config.vocabulary),
            config.encoding,
        )
        seed_everything(config.seed)
        module = NotebookClassifier(config, encoder.tokenizer.get_vocab_size(), len(data.labels))
        n = len(data.train_texts)
        context.on_step(f"training the {config.architecture} model on {n:,} texts")
        return fit_classifier(
            config,
            module,
            encoder=encoder,
            device=device,
            data=data,
            context=context,
            fingerprint=f"notebook:{config.architecture}:{config.task}",
            manifest_extra={"architecture": config.architecture},
            extra_metrics={"vocabulary_size": float(encoder.tokenizer.get_vocab_size())},
        )


FAMILY = NotebookFamily()
