# Dependencies come from Debian packages (tools/setup-host.sh), except libzmq, which is built
# statically from Debian's own source package by tools/build-libzmq.sh: Debian's libzmq.a needs
# static Kerberos libraries that Debian does not ship.

set(RIGAGENT_DEPS_DIR "${CMAKE_SOURCE_DIR}/.deps/${CMAKE_SYSTEM_PROCESSOR}" CACHE PATH
    "Where tools/build-libzmq.sh installed the static libzmq")

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

# Mbed TLS (libmbedtls-dev) for the upstream HTTPS clients. Debian ships neither a CMake package
# nor .pc files for it, so the static archives are found by name; they go in this order because
# each needs the next (TLS -> X.509 -> crypto).
find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
find_library(MBEDTLS_LIB NAMES libmbedtls.a REQUIRED)
find_library(MBEDX509_LIB NAMES libmbedx509.a REQUIRED)
find_library(MBEDCRYPTO_LIB NAMES libmbedcrypto.a REQUIRED)
add_library(rig_mbedtls INTERFACE IMPORTED GLOBAL)
set_target_properties(rig_mbedtls PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${MBEDTLS_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES "${MBEDTLS_LIB};${MBEDX509_LIB};${MBEDCRYPTO_LIB};Threads::Threads")
