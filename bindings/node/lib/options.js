"use strict";
/** The options a `Client` takes (camelCase; the addon reads their snake_case JSON names). */
Object.defineProperty(exports, "__esModule", { value: true });
