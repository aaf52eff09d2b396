# Dependencies come from Debian packages (tools/setup-host.sh), except libzmq, which is built
# statically from Debian's own source package by tools/build-libzmq.sh: Debian's libzmq.a needs
# static Kerberos libraries that Debian does not ship; and Mbed TLS, built from Debian's source
# by tools/build-mbedtls.sh as a TLS client only (see below).

set(RIGAGENT_DEPS_DIR "${CMAKE_SOURCE_DIR}/.deps/${CMAKE_SYSTEM_PROCESSOR}" CACHE PATH
    "Where tools/build-libzmq.sh and tools/build-mbedtls.sh installed the static libzmq and Mbed TLS")

find_path(ZMQ_INCLUDE_DIR zmq.h PATHS "${RIGAGENT_DEPS_DIR}/libzmq/include" NO_DEFAULT_PATH)
find_library(ZMQ_STATIC_LIB NAMES libzmq.a PATHS "${RIGAGENT_DEPS_DIR}/libzmq/lib" NO_DEFAULT_PATH)
if(NOT ZMQ_INCLUDE_DIR OR NOT ZMQ_STATIC_LIB)
  message(FATAL_ERROR
    "No static libzmq in ${RIGAGENT_DEPS_DIR}/libzmq.\n"
    "Run tools/setup-host.sh and tools/build-libzmq.sh first (tools/test.sh and tools/run-agent.sh do both).")
endif()

find_package(Threads REQUIRED)
add_library(rig_zmq STATIC IMPORTED GLOBAL)
set_target_properties(rig_zmq PROPERTIES
  IMPORTED_LOCATION "${ZMQ_STATIC_LIB}"
  INTERFACE_INCLUDE_DIRECTORIES "${ZMQ_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "ZMQ_STATIC"
  INTERFACE_LINK_LIBRARIES Threads::Threads)

# cppzmq and nlohmann_json are header-only; their headers live in /usr/include.
find_path(CPPZMQ_INCLUDE_DIR zmq.hpp REQUIRED)
find_path(NLOHMANN_INCLUDE_DIR nlohmann/json.hpp REQUIRED)
add_library(rig_headers INTERFACE)
# cppzmq's zmq.hpp must see the static libzmq's zmq.h, so that include dir goes first.
target_include_directories(rig_headers SYSTEM INTERFACE "${ZMQ_INCLUDE_DIR}" "${CPPZMQ_INCLUDE_DIR}"
                           "${NLOHMANN_INCLUDE_DIR}")

if(RIGAGENT_TESTS)
  find_path(CMOCKA_INCLUDE_DIR cmocka.h REQUIRED)
  find_library(CMOCKA_LIB cmocka REQUIRED)
  # Debian's python3 (with python3-zmq), not whatever python3 comes first on PATH.
  find_program(PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)
  # Debian's serf agent: the Serf tests start real agents on loopback.
  find_program(SERF serf PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)
endif()

# Standalone Asio (header only): the io thread that runs the HAL and, later, the upstream clients.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(rig_asio INTERFACE)
target_include_directories(rig_asio SYSTEM INTERFACE "${ASIO_INCLUDE_DIR}")
target_compile_definitions(rig_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_NO_TYPEID)
target_link_libraries(rig_asio INTERFACE Threads::Threads)

# msgpack-c (libmsgpack-cxx-dev, header only) for the Serf agent RPC. MSGPACK_NO_BOOST: its C++
# API without Boost (Debian's 4.x would otherwise pull Boost headers in).
find_path(MSGPACK_INCLUDE_DIR msgpack.hpp REQUIRED)
add_library(rig_msgpack INTERFACE)
target_include_directories(rig_msgpack SYSTEM INTERFACE "${MSGPACK_INCLUDE_DIR}")
target_compile_definitions(rig_msgpack INTERFACE MSGPACK_NO_BOOST)
# GCC 12 at -Os (the release builds) inlines msgpack::zone's operator delete (free) but not its
# operator new (malloc) and then reports a mismatch that is not there (-Wmismatched-new-delete
# in msgpack/v1/detail/cpp11_zone.hpp); -Werror must not turn that into a failure.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(rig_msgpack INTERFACE -Wno-mismatched-new-delete)
endif()

# Mbed TLS for the upstream HTTPS clients (and base64 for Serf): built statically from Debian's
# own source package by tools/build-mbedtls.sh, configured as a TLS 1.2 client only
# (tools/mbedtls-config.h); Debian's libmbedtls-dev archives carry the whole default
# configuration (TLS server, debug module, DES, ARC4, ...), about 0.5 MB of the firmware binary.
# Every build uses this one, so that the tests test what ships.
set(RIG_MBEDTLS_PREFIX "${RIGAGENT_DEPS_DIR}/mbedtls")
find_path(RIG_MBEDTLS_INCLUDE_DIR mbedtls/ssl.h PATHS "${RIG_MBEDTLS_PREFIX}/include" NO_DEFAULT_PATH)
# In this order because each needs the next (TLS -> X.509 -> crypto).
find_library(RIG_MBEDTLS_LIB NAMES libmbedtls.a PATHS "${RIG_MBEDTLS_PREFIX}/lib" NO_DEFAULT_PATH)
find_library(RIG_MBEDX509_LIB NAMES libmbedx509.a PATHS "${RIG_MBEDTLS_PREFIX}/lib" NO_DEFAULT_PATH)
find_library(RIG_MBEDCRYPTO_LIB NAMES libmbedcrypto.a PATHS "${RIG_MBEDTLS_PREFIX}/lib" NO_DEFAULT_PATH)
if(NOT RIG_MBEDTLS_INCLUDE_DIR OR NOT RIG_MBEDTLS_LIB OR NOT RIG_MBEDX509_LIB OR NOT RIG_MBEDCRYPTO_LIB)
  message(FATAL_ERROR
    "No static Mbed TLS in ${RIG_MBEDTLS_PREFIX}.\n"
    "Run tools/setup-host.sh and tools/build-mbedtls.sh first (tools/prepare.sh does both; "
    "for a cross build: tools/build-mbedtls.sh --arch aarch64|armhf).")
endif()
# The installed configuration must be the current tools/mbedtls-config.h; a configure runs again
# when it changes or when tools/build-mbedtls.sh installs a new build.
set(rig_mbedtls_config "${RIG_MBEDTLS_INCLUDE_DIR}/mbedtls/config.h")
set_property(DIRECTORY "${CMAKE_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             "${CMAKE_SOURCE_DIR}/tools/mbedtls-config.h" "${RIG_MBEDTLS_PREFIX}/rigagent-recipe.txt")
file(MD5 "${CMAKE_SOURCE_DIR}/tools/mbedtls-config.h" rig_mbedtls_want)
set(rig_mbedtls_have "")
if(EXISTS "${rig_mbedtls_config}")
  file(MD5 "${rig_mbedtls_config}" rig_mbedtls_have)
endif()
if(NOT rig_mbedtls_have STREQUAL rig_mbedtls_want OR NOT EXISTS "${RIG_MBEDTLS_PREFIX}/lib-server/libmbedtls.a")
  message(FATAL_ERROR
    "The Mbed TLS in ${RIG_MBEDTLS_PREFIX} was built by an older tools/build-mbedtls.sh or with "
    "another tools/mbedtls-config.h.\nRun tools/build-mbedtls.sh again (with --arch for a cross build).")
endif()
add_library(rig_mbedtls INTERFACE IMPORTED GLOBAL)
# MBEDTLS_CONFIG_FILE: every object that includes an Mbed TLS header sees the configuration the
# library was built with (the headers' structures depend on it), whichever mbedtls/ directory
# the compiler finds first; Debian's /usr/include/mbedtls/config.h is never read.
# rigagent-bench alone links lib-server/: the same libraries with the TLS server and the debug
# module added, for its LaneSwap stand-in (tools/bench/laneswap_heartbeat.cpp is an Mbed TLS
# server). Its objects are compiled against the same headers; tools/build-mbedtls.sh checks that
# the two builds lay out the structures alike. Everything else links the client-only libraries.
set(rig_mbedtls_libs "")
foreach(lib IN ITEMS RIG_MBEDTLS_LIB RIG_MBEDX509_LIB RIG_MBEDCRYPTO_LIB)
  get_filename_component(name "${${lib}}" NAME)
  list(APPEND rig_mbedtls_libs
       "$<IF:$<STREQUAL:$<TARGET_PROPERTY:NAME>,rigagent-bench>,${RIG_MBEDTLS_PREFIX}/lib-server/${name},${${lib}}>")
endforeach()
set_target_properties(rig_mbedtls PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${RIG_MBEDTLS_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "MBEDTLS_CONFIG_FILE=\"${rig_mbedtls_config}\""
  INTERFACE_LINK_LIBRARIES "${rig_mbedtls_libs};Threads::Threads")
