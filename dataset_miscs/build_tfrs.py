"""Build TFRecord shards from an ImageNet-style folder (``train/<class>/*``, ``val/<class>/*``), as in the LA release.

    python dataset_miscs/build_tfrs.py --save_dir OUT --img_folder IN [--random_seed 0]
        [--train_shards N --val_shards M --workers W]

Labels are the positions of the sorted train class directories; files are sorted within a class; the train
list is permuted with ``--random_seed``, validation stays in order. Writes ``train-%05d-of-%05d``,
``validation-%05d-of-%05d``, DALI index files in ``idx/``, ``labels.txt`` and ``meta.json``. A relaunch resumes
an interrupted build of the same images; changed images rebuild the directory afresh (``common.data.build``).
"""

from common import cli
from common.data.build import SPLIT_DIRS, build_tfrecords, default_shards, list_image_folder

__all__ = ["SPLIT_DIRS", "build_tfrecords", "default_shards", "list_image_folder", "main"]


def main(argv=None):
    """Command line entry point."""
    p = cli.CliParser(description=__doc__.split("\n")[0])
    p.add_argument("--save_dir", required=True, help="output directory for the shards")
    p.add_argument("--img_folder", required=True, help="root holding train/ and val/ class folders")
    p.add_argument("--random_seed", type=int, default=0, help="seed of the train-list permutation")
    p.add_argument("--train_shards", type=int, default=None, help="default: 1024 for ImageNet, ~500 images each")
    p.add_argument("--val_shards", type=int, default=None, help="default: 128 for ImageNet, ~500 images each")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores for large sets)")
    args = p.parse_args(argv)
    return cli.exit_status(lambda: build_tfrecords(args.img_folder, args.save_dir, args.random_seed,
                                                   args.train_shards, args.val_shards, args.workers))


if __name__ == "__main__":
    cli.run(main)
