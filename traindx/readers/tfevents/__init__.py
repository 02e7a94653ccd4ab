"""TensorBoard event files (``events.out.tfevents.*``) without TensorFlow or protobuf.

An event file is a TFRecord file (see :mod:`traindx.readers.tfrecord`) whose records are
serialized ``tensorflow.Event`` protos.  This reader decodes the few fields it needs by hand:

    Event:          wall_time=1 (double), step=2 (int64), summary=5 (Summary)
    Summary:        value=1 (repeated Value)
    Value:          tag=1, simple_value=2 (float), histo=5 (HistogramProto),
                    tensor=8 (TensorProto), metadata=9 (SummaryMetadata)
    HistogramProto: min=1 max=2 num=3 sum=4 sum_squares=5 (doubles)
    TensorProto:    dtype=1, tensor_shape=2, tensor_content=4, float_val=5, double_val=6,
                    int_val=7, int64_val=10, bool_val=11, half_val=13
    SummaryMetadata.plugin_data=1 -> PluginData.plugin_name=1

Unknown fields are skipped by wire type.  Decoding is vectorised over the whole file, in
two tiers:

* Compiled layouts.  Most records of a file share a few byte layouts (same fields, same
  lengths; only payload bytes differ).  One record of each common length is parsed in
  Python into a layout: the bytes that steer the parse become checks, the payloads fixed
  offsets.  All records of that length are checked against it at once and decoded by
  gathers at those offsets.  This covers tensorboardX / torch ``simple_value`` scalars,
  TF1 multi-value summaries and TF2 / Keras rank-0 tensor scalars.
* The generic decoder, for everything else: all records (then all summaries, all values,
  all tensors) advance through their fields in lockstep, one field per numpy step, with
  vectorised varint decoding and wire-type dispatch by masks; repeated values in a summary
  are handled by looping while any message still has bytes left.

Tags are interned by hashing their bytes eight at a time and checking every tag byte for
byte against one representative of its hash, so no Python string is made per record.  Only
TF2 histogram tensors (k x 3 ``[left, right, count]``) are decoded one by one.  The data
CRCs are checked in a second thread while the records are decoded.

Speed: see :func:`read_event_file` for what was measured.

Modules: :mod:`.reader` (the entry point), :mod:`.proto` (field keys, dtypes, views),
:mod:`.scan` (lockstep field scanning), :mod:`.layouts` (compiled layouts), :mod:`.decode`
(the generic decoder), :mod:`.columns` (what the decoders fill), :mod:`.scalars` (tensor
scalars in bulk), :mod:`.pyfields` (pure-Python slow paths), :mod:`.intern` (tag interning),
:mod:`.assemble` (series per tag).  Framing and CRCs: :mod:`traindx.readers.tfrecord`.
"""

from traindx.readers.tfevents.reader import is_event_file, read_event_file

__all__ = ["is_event_file", "read_event_file"]
