#!/usr/bin/env python3
"""Convert ChemNet weights for `strand evaluate-molecules --chemnet`.

    python3 scripts/chemnet_to_safetensors.py ChemNet_v0.13_pretrained.pt chemnet.safetensors

The input is the weights file that ships inside the Python packages `fcd` (FCD >= 1.2) and
`fcd_torch`: a torch.save of a list of (layer type, (state_dict, kwargs, info)) entries. Reading it
needs PyTorch (a pickle is only opened here, on the user's side, never by strand). The output is
a plain safetensors file: tensors "layers.N.<name>" in float32 and the metadata "format" =
"strand-chemnet" and "layers" (one JSON object per layer), as chem/fcd.h describes.
"""
import json
import struct
import sys


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    import torch  # only needed to read the input pickle

    entries = torch.load(argv[1], map_location="cpu")
    tensors, layers = {}, []
    for index, (kind, (state, kwargs, info)) in enumerate(entries):
        if kind == "Conv1d":
            dilation = kwargs.get("dilation", 1)
            if isinstance(dilation, (list, tuple)):
                dilation = dilation[0]
            layers.append({"type": "conv1d", "stride": int(kwargs.get("stride", 1)), "dilation": int(dilation),
                           "padding": info.get("padding", "valid"), "activation": info.get("activation", "linear")})
        elif kind == "LSTM":
            layers.append({"type": "lstm", "reverse": bool(info.get("reverse", False)),
                           "last": bool(info.get("last", False))})
        else:
            sys.exit(f"layer {index}: unknown layer type {kind!r}")
        for name, value in state.items():
            # nn.LSTM names its single layer's parameters weight_ih_l0 etc.
            tensors[f"layers.{index}.{name.replace('_l0', '')}"] = value.detach().float().contiguous()

    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = tensors[name].numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "strand-chemnet", "layers": json.dumps(layers)}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(argv[2] + ".tmp", "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)
    import os
    os.replace(argv[2] + ".tmp", argv[2])
    print(f"{argv[2]}: {len(layers)} layers, {len(tensors)} tensors")


if __name__ == "__main__":
    main(sys.argv)
