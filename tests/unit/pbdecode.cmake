# test_pbdecode: od_pb_unpack (src/common/pbdecode.c) against protobuf-c's own
# decoder, on every message type of orgdir.v1 and on test-only messages with
# what orgdir.v1 lacks: proto2 required fields, defaults and has_ flags, every
# scalar type, packed and unpacked repeated fields, oneofs, maps, field
# numbers far apart, self-recursive messages (the nesting cap), many types
# and many fields. The
# comparison and the input generators (pbdiff.c) are shared with the fuzz
# target fuzz_pbdecode, so they live in a library with the test messages.
set(PBDECODE_TEST_GEN ${CMAKE_CURRENT_BINARY_DIR}/pbdecode_gen)
file(CONFIGURE OUTPUT ${PBDECODE_TEST_GEN}/pbdecodetest/two.proto @ONLY CONTENT [=[
// Test-only proto2 messages for test_pbdecode (tests/unit/pbdecode.cmake).
syntax = "proto2";
package pbdecodetest;

enum Tone {
  TONE_ZERO = 0;
  TONE_ONE = 1;
  TONE_NEG = -1;
}

message Leaf {
  optional int32 a = 1;
  optional string s = 2;
  repeated int32 r = 3;
  optional Leaf next = 4;
}

message Two {
  required int32 req_int = 1;
  required string req_str = 2 [default = "not needed on the wire"];
  optional int32 o_int32 = 3 [default = -7];
  optional int64 o_int64 = 4 [default = -1234567890123];
  optional uint32 o_uint32 = 5 [default = 4000000000];
  optional uint64 o_uint64 = 6 [default = 18000000000000000000];
  optional sint32 o_sint32 = 7 [default = -3];
  optional sint64 o_sint64 = 8 [default = -4];
  optional fixed32 o_fixed32 = 9 [default = 5];
  optional fixed64 o_fixed64 = 10 [default = 6];
  optional sfixed32 o_sfixed32 = 11 [default = -8];
  optional sfixed64 o_sfixed64 = 12 [default = -9];
  optional float o_float = 13 [default = 1.5];
  optional double o_double = 14 [default = -2.25];
  optional bool o_bool = 15 [default = true];
  optional string o_string = 16 [default = "hello"];
  optional bytes o_bytes = 17 [default = "\001\000\002"];
  optional Tone o_tone = 18 [default = TONE_NEG];
  optional Leaf o_leaf = 19;
  optional string o_plain = 20;
  optional bytes o_raw = 21;
  repeated int32 r_int32 = 22;
  repeated sint64 r_sint64 = 23 [packed = true];
  repeated fixed32 r_fixed32 = 24 [packed = true];
  repeated double r_double = 25;
  repeated bool r_bool = 26 [packed = true];
  repeated bool r_bool2 = 27;
  repeated Tone r_tone = 28 [packed = true];
  repeated uint64 r_uint64 = 29;
  repeated float r_float = 30 [packed = true];
  repeated string r_string = 31;
  repeated bytes r_bytes = 32;
  repeated Leaf r_leaf = 33;
  oneof pick {
    int32 k_int32 = 40;
    string k_string = 41;
    bytes k_bytes = 42;
    Leaf k_leaf = 43;
    double k_double = 44;
  }
  optional Needs needs = 45;
  optional uint32 far = 1000;
  optional string farther = 536870911;
  repeated sfixed64 r_sfixed64 = 100000 [packed = true];
}

message Needs {
  required Leaf leaf = 1;
  required bytes blob = 2;
  optional int32 x = 3;
}
]=])
file(CONFIGURE OUTPUT ${PBDECODE_TEST_GEN}/pbdecodetest/three.proto @ONLY CONTENT [=[
// Test-only proto3 messages for test_pbdecode (tests/unit/pbdecode.cmake).
syntax = "proto3";
package pbdecodetest;

enum Hue {
  HUE_ZERO = 0;
  HUE_ONE = 1;
  HUE_BIG = 1000000;
}

message Tree {
  Tree child = 1;
  int32 v = 2;
  repeated Tree kids = 3;
  string name = 4;
  bytes tag = 5;
}

message Empty {
}

message Three {
  int32 f_int32 = 1;
  int64 f_int64 = 2;
  uint32 f_uint32 = 3;
  uint64 f_uint64 = 4;
  sint32 f_sint32 = 5;
  sint64 f_sint64 = 6;
  fixed32 f_fixed32 = 7;
  fixed64 f_fixed64 = 8;
  sfixed32 f_sfixed32 = 9;
  sfixed64 f_sfixed64 = 10;
  float f_float = 11;
  double f_double = 12;
  bool f_bool = 13;
  string f_string = 14;
  bytes f_bytes = 15;
  Hue f_hue = 16;
  Tree f_tree = 17;
  Empty f_empty = 18;
  repeated int32 r_int32 = 20;
  repeated int64 r_int64 = 21;
  repeated uint32 r_uint32 = 22;
  repeated sint32 r_sint32 = 23;
  repeated sint64 r_sint64 = 24;
  repeated fixed64 r_fixed64 = 25;
  repeated sfixed32 r_sfixed32 = 26;
  repeated double r_double = 27;
  repeated bool r_bool = 28;
  repeated Hue r_hue = 29;
  repeated uint64 r_unpacked = 30 [packed = false];
  repeated string r_string = 31;
  repeated bytes r_bytes = 32;
  repeated Tree r_tree = 33;
  map<string, Tree> by_name = 40;
  map<int64, string> by_number = 41;
  oneof a {
    string a_string = 50;
    Tree a_tree = 51;
    uint64 a_uint64 = 52;
    bytes a_bytes = 53;
    bool a_bool = 54;
  }
  oneof b {
    float b_float = 60;
    sint32 b_sint32 = 61;
  }
  Tree later = 70;
  Three inner = 80;
}
]=])
# Many types and fields, built here rather than written out: a chain of 20
# message types (more than one call's table of plans holds) and a message of
# 302 fields in 4 ranges of numbers, its required field last (past the
# required-field bitmap the decoder keeps on its stack).
set(many "// Test-only proto2 messages for test_pbdecode (tests/unit/pbdecode.cmake).\n")
string(APPEND many "syntax = \"proto2\";\npackage pbdecodetest;\n")
foreach(i RANGE 1 20)
  math(EXPR next "${i} + 1")
  string(APPEND many "message Chain${i} {\n")
  if(i LESS 20)
    string(APPEND many "  optional Chain${next} next = 1;\n")
  endif()
  string(APPEND many "  optional int32 v = 2;\n  repeated string s = 3;\n}\n")
endforeach()
string(APPEND many "message Wide {\n")
foreach(i RANGE 1 150)
  string(APPEND many "  optional int32 w${i} = ${i};\n")
endforeach()
foreach(i RANGE 1001 1150)
  string(APPEND many "  optional string x${i} = ${i};\n")
endforeach()
string(APPEND many "  required int32 last = 2000;\n  repeated Chain1 chains = 3000;\n}\n")
file(CONFIGURE OUTPUT ${PBDECODE_TEST_GEN}/pbdecodetest/many.proto CONTENT "${many}" @ONLY)

set(PBDECODE_TEST_PROTOS two three many)
set(PBDECODE_TEST_SRCS)
set(PBDECODE_TEST_OUT)
set(PBDECODE_TEST_IN)
foreach(p ${PBDECODE_TEST_PROTOS})
  list(APPEND PBDECODE_TEST_SRCS ${PBDECODE_TEST_GEN}/pbdecodetest/${p}.pb-c.c)
  list(APPEND PBDECODE_TEST_OUT ${PBDECODE_TEST_GEN}/pbdecodetest/${p}.pb-c.c
    ${PBDECODE_TEST_GEN}/pbdecodetest/${p}.pb-c.h)
  list(APPEND PBDECODE_TEST_IN ${PBDECODE_TEST_GEN}/pbdecodetest/${p}.proto)
endforeach()
add_custom_command(
  OUTPUT ${PBDECODE_TEST_OUT}
  COMMAND ${PROTOC_C} --proto_path=${PBDECODE_TEST_GEN} --c_out=${PBDECODE_TEST_GEN}
          ${PBDECODE_TEST_IN}
  DEPENDS ${PBDECODE_TEST_IN}
  COMMENT "protoc-c: generating test messages for test_pbdecode"
  VERBATIM)
# Generated code is not ours to warn about.
set_source_files_properties(${PBDECODE_TEST_SRCS} PROPERTIES COMPILE_OPTIONS -w)

add_library(od_pbdiff STATIC ${CMAKE_CURRENT_SOURCE_DIR}/unit/pbdiff.c ${PBDECODE_TEST_SRCS})
target_include_directories(od_pbdiff PUBLIC ${PBDECODE_TEST_GEN} ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_link_libraries(od_pbdiff PUBLIC od_common m)

# How many message types orgdir.v1 and the well-known types it imports
# declare: the test checks that it compares every one of them.
set(PBDECODE_MESSAGES 0)
foreach(p ${PROTO_INPUTS})
  file(STRINGS ${p} decls REGEX "^message ")
  list(LENGTH decls k)
  math(EXPR PBDECODE_MESSAGES "${PBDECODE_MESSAGES} + ${k}")
endforeach()

od_add_cmocka_test(test_pbdecode SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_pbdecode.c
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/testutil.c LIBS od_pbdiff TIMEOUT 600)
target_compile_definitions(test_pbdecode PRIVATE OD_PROTO_MESSAGES=${PBDECODE_MESSAGES})
# The seeds of fuzz_pbdecode (tests/fuzz/corpus/pbdecode/) are what
# `test_pbdecode DIR` writes; their first byte names a type by its place in
# pbdiff_all_descriptors, so they must be written again when that changes.
add_test(NAME test_pbdecode_seeds_current COMMAND ${CMAKE_COMMAND}
  -DGEN=$<TARGET_FILE:test_pbdecode>
  -DOUT=${CMAKE_CURRENT_BINARY_DIR}/pbdecode-seeds
  -DCORPUS=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/pbdecode
  -P ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds_current.cmake)
