/* placeholder: replaced by the JSON mapping */
