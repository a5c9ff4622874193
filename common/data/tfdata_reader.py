"""The ``tf.data`` reader: TFRecord shards -> ``(image, label, index)`` batches, sharded by worker/tower."""
from common.data.augment import output_dtype, preprocess as augment_image
from common.data.records import list_shards
from common.data.schema import decode_record, parse_records
from common.tf1 import tf

SHUFFLE_BUFFER = 10000  # records; the LA release used 102400 on ImageNet
CYCLE_LENGTH = 8  # shards read in parallel
PARALLEL_IMAGES = 16  # images of one batch augmented concurrently


def augment_batch(serialized, augment, seed=None):
    """A batch of serialized records -> ``(images, labels, indices)``, each image augmented by ``augment``.

    Parsing the whole batch at once and looping over its images in the graph costs far less per image than one
    ``Dataset.map`` call per record (about 1.5x faster at 96 px, see ``bench.input``). With a ``seed`` the images
    are augmented one after the other, so that the random ops draw in a fixed order (a repeatable run).
    """
    rec = parse_records(serialized)
    images = tf.map_fn(lambda encoded: augment_image(encoded, augment, seed), rec["images"],
                       dtype=output_dtype(augment), parallel_iterations=PARALLEL_IMAGES if seed is None else 1)
    return images, rec["labels"], rec["index"]


def shard_files(files, num_shards, shard_index):
    """Whole files for worker ``shard_index`` when ``num_shards`` divides the file count (balanced), else None."""
    if num_shards > 1 and len(files) % num_shards == 0:
        return files[shard_index::num_shards]
    return None


def tfdata_dataset(record_dir, split, batch_size, augment, shuffle, repeat, num_shards=1, shard_index=0, seed=None,
                   drop_remainder=True, preprocess=None):
    """``tf.data.Dataset`` of ``(image, label, index)`` batches read from ``record_dir``'s ``split`` shards.

    Worker ``shard_index`` of ``num_shards`` reads every num_shards-th file (or, when the files do not split
    evenly, every num_shards-th record), so the workers together cover each record once per epoch.
    With ``preprocess``, each example is decoded to ``{"image": uint8 HxWx3, "label", "index"}`` and mapped by
    it instead of ``augment``; the batches are then dicts. The dataset's ``record_files`` lists the shards.
    """
    files = list_shards(record_dir, split)
    own = shard_files(files, num_shards, shard_index)
    ds = tf.data.Dataset.from_tensor_slices(own if own is not None else files)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    cycle = min(CYCLE_LENGTH, len(files)) if shuffle else 1  # unshuffled: records in stored order
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=cycle,
                       num_parallel_calls=tf.data.experimental.AUTOTUNE)
    if own is None and num_shards > 1:
        ds = ds.shard(num_shards, shard_index)
    if shuffle:
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    parallel = tf.data.experimental.AUTOTUNE if seed is None else None  # seeded: draws in a fixed order
    if preprocess is None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        ds = ds.map(lambda serialized: augment_batch(serialized, augment, seed), num_parallel_calls=parallel)
    else:
        ds = ds.map(lambda serialized: preprocess(decode_record(serialized)), num_parallel_calls=parallel)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if repeat:
        # Repeat whole batched epochs: each epoch is a fresh permutation of the split and no batch spans two
        # epochs, so a batch never holds one index twice (memory-bank scatters cannot collide).
        ds = ds.repeat()
    ds = ds.prefetch(tf.data.experimental.AUTOTUNE)
    ds.record_files = tuple(files)  # for naming a corrupt shard when reading fails (common.train)
    return ds
