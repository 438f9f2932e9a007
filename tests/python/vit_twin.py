"""The PyTorch twin of normkit.models.make_model('vit', 'ln', ...): a
torch.nn.Sequential of the same layers under the same state-dict keys
(torch.nn.TransformerEncoderLayer for the blocks), for tests/python/test_vit.py
and bench/train_step.py."""

import torch


class PatchEmbedding(torch.nn.Module):
    def __init__(self, patch, dim, tokens):
        super().__init__()
        self.class_token = torch.nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = torch.nn.Parameter(torch.zeros(1, tokens, dim))
        self.conv_proj = torch.nn.Conv2d(1, dim, patch, stride=patch)

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)  # (N, patches, D)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.pos_embedding


class ClassToken(torch.nn.Module):
    def forward(self, x):
        return x[:, 0]


def torch_vit(depth, dim, heads, patch, mlp_ratio, pre, dropout=0.0):
    layers = [PatchEmbedding(patch, dim, 1 + (28 // patch) ** 2)]
    for _ in range(depth):
        layers.append(torch.nn.TransformerEncoderLayer(dim, heads, mlp_ratio * dim, dropout=dropout, activation="gelu",
                                                       batch_first=True, norm_first=pre))
    if pre:
        layers.append(torch.nn.LayerNorm(dim))
    layers += [ClassToken(), torch.nn.Linear(dim, 10)]
    return torch.nn.Sequential(*layers)
