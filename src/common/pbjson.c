/* placeholder: replaced by the JSON mapping */
#include "pbjson.h"
typedef int od_pbjson_placeholder;
