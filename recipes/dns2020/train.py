"""Train MambAttention on (noisy, clean) pairs synthesised with the DNS Challenge 2020 scripts.

    python -m recipes.dns2020.train --root /data/dns2020/training --out runs/dns

The root holds ``noisy/*_fileid_N.wav`` and ``clean/clean_fileid_N.wav`` as the challenge's
``noisyspeech_synthesizer`` writes them. The challenge's no-reverb test set scores the result:
``python -m recipes.common.enhance_eval --noisy .../no_reverb/noisy --clean .../no_reverb/clean``.
"""

import sys

from recipes.common.enhance_train import main

if __name__ == "__main__":
    sys.exit(main(dataset_name="DNS Challenge 2020"))
