"""Media: what the user names (files, folders, URLs, web pages, standard input) turned into
pictures and sampled video frames, within hard limits. ``targets`` (inputs), ``images`` (decoding
stills into working copies), ``fetch`` and ``webpage`` (HTTP, bounded and SSRF-guarded), ``sniff``
(is it a video?), ``video`` with ``animation`` and ``container`` (decoders) and ``frames`` (their
shared limits and facts), ``sampling`` (which frames to keep)."""
