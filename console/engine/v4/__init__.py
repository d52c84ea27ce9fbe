"""DeepSeek-V4 (``DeepseekV4ForCausalLM``) for the numpy engine, one job per module:
``config`` (the three config.json forms), ``names`` (the three tensor layouts), ``weights``
(tensor specs and layer loading), ``rope`` (interleaved RoPE), ``hyper`` (mHC), ``compressor``
(HCA/CSA compressor and Lightning Indexer), ``attention``, ``moe``, ``cache``, ``model``.
``console.engine.load_model`` returns a :class:`~console.engine.v4.model.V4Model` for a V4 folder.
"""
