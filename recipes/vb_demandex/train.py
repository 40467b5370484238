"""Train MambAttention on a local VB-DemandEx copy (the paper's setting: 2 s segments, AdamW 5e-4).

    python -m recipes.vb_demandex.train --root /data/VB-DemandEx --out runs/vbd
    torchrun --nproc_per_node 4 -m recipes.vb_demandex.train --root /data/VB-DemandEx --out runs/vbd

The root holds ``noisy_trainset*/`` + ``clean_trainset*/`` (and the test folders, which training
never reads). Score the result with ``python -m recipes.common.enhance_eval`` on the test folders.
"""

import sys

from recipes.common.enhance_train import main

if __name__ == "__main__":
    sys.exit(main(dataset_name="VB-DemandEx"))
