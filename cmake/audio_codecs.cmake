# The lossy audio encoders of io/audio: MP3 through LAME (Debian
# libmp3lame-dev, which ships no pkg-config file) and Ogg Opus through
# libopusenc (libopusenc-dev, on libopus-dev). The unit tests decode what
# they write with independent decoders: LAME's own hip decoder (in
# libmp3lame) and libopusfile (libopusfile-dev, a test-only dependency).
# The targets are GLOBAL so tests/ can link them too.
find_path(ACEFIT_LAME_INCLUDE_DIR lame/lame.h REQUIRED)
find_library(ACEFIT_LAME_LIBRARY mp3lame REQUIRED)
if(NOT TARGET acefit::mp3lame)
  add_library(acefit::mp3lame UNKNOWN IMPORTED GLOBAL)
  set_target_properties(acefit::mp3lame PROPERTIES IMPORTED_LOCATION ${ACEFIT_LAME_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${ACEFIT_LAME_INCLUDE_DIR})
endif()
pkg_check_modules(OPUSENC REQUIRED IMPORTED_TARGET GLOBAL libopusenc)
if(ACEFIT_BUILD_TESTS)
  pkg_check_modules(OPUSFILE REQUIRED IMPORTED_TARGET GLOBAL opusfile)
endif()
