# od_iso3166: ISO 3166-1 reference data from Debian's iso-codes (the JSON
# through jansson, the gettext catalogues parsed directly).
add_library(od_iso3166 STATIC ${CMAKE_CURRENT_SOURCE_DIR}/iso3166.c)
target_link_libraries(od_iso3166 PUBLIC od_common PkgConfig::JANSSON)
