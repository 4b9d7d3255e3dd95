# Compile options shared by every acefit target: warnings, -march, sanitizers.
add_library(acefit_options INTERFACE)
target_compile_options(acefit_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wformat=2 -Wimplicit-fallthrough>)
if(ACEFIT_WERROR)
  target_compile_options(acefit_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
if(ACEFIT_ARCH)
  target_compile_options(acefit_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=${ACEFIT_ARCH}>)
endif()
if(ACEFIT_SANITIZE)
  target_compile_options(acefit_options INTERFACE -fsanitize=${ACEFIT_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
  target_link_options(acefit_options INTERFACE -fsanitize=${ACEFIT_SANITIZE})
endif()
