/* auditor's optional C accelerator: inner loops of a check, the same results.
 *
 * - Builder: libcst nodes built from the keyword arguments libcst's native parser
 *   passes (below; the Python side is auditor/speed/speedups.py).
 * - Namespace: where the native parser finds the builders during a parse (further below).
 * - walk: the model's walk over a tree (further below; the Python side is
 *   auditor/analysis/model.py).
 *
 * Without this extension (setup.py builds it where a C compiler is found), both run in
 * Python as before.
 *
 * Builder.
 *
 * libcst's parser (Rust) makes every node by calling the node class with a dict of
 * keyword arguments. In Python that call allocates the object, looks up and runs the
 * dataclass `__init__` (a frame, the keywords matched to parameters, one slot store per
 * field): about a sixth of a whole check. A `Builder` does the same stores in C, for
 * the duration of a parse only (auditor/speed/parsing.py): it allocates the instance as
 * `object.__new__` would, fills each slot from the keywords or the field's default, and
 * skips `__post_init__` (validation, which parsing pauses anyway).
 *
 * Anything it was not made for (positional arguments, a keyword the class lacks, a
 * required field missing) goes to the class itself, which builds the node or raises the
 * error Python would. auditor/speed/speedups.py makes the builders and checks that a tree
 * built with them equals one built without; without this extension, nothing changes.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#if PY_VERSION_HEX < 0x030A0000  /* Python 3.9 */
static inline PyObject *Py_NewRef(PyObject *o) { Py_INCREF(o); return o; }
#endif

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    Py_ssize_t count;      /* fields */
    PyObject *names;       /* tuple of str: the fields, in order */
    PyObject *defaults;    /* tuple: the default, or REQUIRED when there is none */
    PyObject *factories;   /* tuple: the default factory, or None */
    Py_ssize_t *offsets;   /* where each field's slot lies in the instance */
} Builder;

static PyObject *required_marker;  /* stands for "no default" in `defaults` */

static int
Builder_traverse(Builder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cls);
    Py_VISIT(self->names);
    Py_VISIT(self->defaults);
    Py_VISIT(self->factories);
    return 0;
}

static int
Builder_clear(Builder *self)
{
    Py_CLEAR(self->cls);
    Py_CLEAR(self->names);
    Py_CLEAR(self->defaults);
    Py_CLEAR(self->factories);
    return 0;
}

static void
Builder_dealloc(Builder *self)
{
    PyObject_GC_UnTrack(self);
    Builder_clear(self);
    PyMem_Free(self->offsets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The offset of the writable object slot that `descriptor` stands for, or -1. */
static Py_ssize_t
slot_offset(PyObject *descriptor)
{
    if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type)) {
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descriptor)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        return -1;
    }
    return member->offset;
}

static PyObject *
Builder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyTypeObject *cls;
    PyObject *names, *defaults, *factories;
    static char *keywords[] = {"cls", "names", "defaults", "factories", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!O!:Builder", keywords, &PyType_Type, &cls,
                                     &PyTuple_Type, &names, &PyTuple_Type, &defaults,
                                     &PyTuple_Type, &factories)) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    if (PyTuple_GET_SIZE(defaults) != count || PyTuple_GET_SIZE(factories) != count) {
        PyErr_SetString(PyExc_ValueError, "names, defaults and factories differ in length");
        return NULL;
    }
    if (cls->tp_new != PyBaseObject_Type.tp_new || (cls->tp_flags & Py_TPFLAGS_IS_ABSTRACT)) {
        PyErr_SetString(PyExc_TypeError, "only concrete classes built by object.__new__");
        return NULL;
    }
    Py_ssize_t *offsets = PyMem_Calloc(count ? count : 1, sizeof(Py_ssize_t));
    if (offsets == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (!PyUnicode_CheckExact(name)) {
            PyMem_Free(offsets);
            PyErr_SetString(PyExc_TypeError, "field names must be str");
            return NULL;
        }
        PyObject *descriptor = PyObject_GetAttr((PyObject *)cls, name);  /* a slot's is its descriptor */
        Py_ssize_t offset = descriptor == NULL ? -1 : slot_offset(descriptor);
        Py_XDECREF(descriptor);
        if (offset < 0) {
            PyErr_Clear();
            PyMem_Free(offsets);
            PyErr_Format(PyExc_TypeError, "%R is not a slot of %R", name, cls);
            return NULL;
        }
        offsets[i] = offset;
    }
    Builder *self = (Builder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyMem_Free(offsets);
        return NULL;
    }
    Py_INCREF(cls);
    self->cls = cls;
    self->count = count;
    self->names = Py_NewRef(names);
    self->defaults = Py_NewRef(defaults);
    self->factories = Py_NewRef(factories);
    self->offsets = offsets;
    return (PyObject *)self;
}

/* The class builds it: for every call the fast path was not made for. */
static PyObject *
by_the_class(Builder *self, PyObject *args, PyObject *kwargs)
{
    return PyObject_Call((PyObject *)self->cls, args, kwargs);
}

static PyObject *
Builder_call(Builder *self, PyObject *args, PyObject *kwargs)
{
    if (self->cls == NULL) {  /* cleared by the garbage collector: no longer usable */
        PyErr_SetString(PyExc_RuntimeError, "node builder used after being cleared");
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) != 0) {
        return by_the_class(self, args, kwargs);
    }
    Py_ssize_t given = kwargs == NULL ? 0 : PyDict_GET_SIZE(kwargs);
    /* Every keyword must name a field: count those found, compare at the end. */
    Py_ssize_t found = 0;
    PyObject *node = self->cls->tp_alloc(self->cls, 0);
    if (node == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->count; i++) {
        PyObject *value = NULL;
        if (given) {
            value = PyDict_GetItemWithError(kwargs, PyTuple_GET_ITEM(self->names, i));
            if (value == NULL && PyErr_Occurred()) {
                Py_DECREF(node);
                return NULL;
            }
        }
        if (value != NULL) {
            Py_INCREF(value);
            found++;
        }
        else {
            PyObject *factory = PyTuple_GET_ITEM(self->factories, i);
            PyObject *fallback = PyTuple_GET_ITEM(self->defaults, i);
            if (factory != Py_None) {
                value = PyObject_CallNoArgs(factory);
                if (value == NULL) {
                    Py_DECREF(node);
                    return NULL;
                }
            }
            else if (fallback != required_marker) {
                value = Py_NewRef(fallback);
            }
            else {  /* a required field missing: the class raises Python's own error */
                Py_DECREF(node);
                return by_the_class(self, args, kwargs);
            }
        }
        PyObject **slot = (PyObject **)((char *)node + self->offsets[i]);
        Py_XSETREF(*slot, value);
    }
    if (found != given) {  /* a keyword that names no field */
        Py_DECREF(node);
        return by_the_class(self, args, kwargs);
    }
    return node;
}

static PyObject *
Builder_repr(Builder *self)
{
    return PyUnicode_FromFormat("<node builder for %s>", self->cls ? self->cls->tp_name : "nothing");
}

static PyMemberDef Builder_members[] = {
    {"cls", T_OBJECT, offsetof(Builder, cls), READONLY, "the class whose nodes this builds"},
    {NULL}
};

static PyTypeObject BuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "auditor.speed._speedups.Builder",
    .tp_doc = PyDoc_STR("Builder(cls, names, defaults, factories): cls(**fields) in C, without validation."),
    .tp_basicsize = sizeof(Builder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Builder_new,
    .tp_dealloc = (destructor)Builder_dealloc,
    .tp_traverse = (traverseproc)Builder_traverse,
    .tp_clear = (inquiry)Builder_clear,
    .tp_call = (ternaryfunc)Builder_call,
    .tp_repr = (reprfunc)Builder_repr,
    .tp_members = Builder_members,
};

/* ---- the parser's view of libcst ---------------------------------------------------------
 *
 * Namespace(names, fallback): an object whose attributes are the entries of the dict
 * `names` as it was when the namespace was made, else those of `fallback`. libcst's
 * native parser fetches every node's class as an attribute of `sys.modules["libcst"]`,
 * by a name string made afresh each time. On a module that lookup first searches the
 * module type's MRO (the attribute cache of the type misses: the string is new) and
 * only then the module's dict. While a file is parsed (auditor/speed/parsing.py) a Namespace
 * of the stand-ins takes the module's place in `sys.modules`.
 *
 * A dict lookup of a fresh string still computes its SipHash. The ASCII names (all of
 * libcst's) sit in a small open-addressed table, probed by a cheap hash of the bytes
 * and confirmed by comparing them; other names go to a copy of the dict.
 */

typedef struct {
    PyObject_HEAD
    PyObject *names;     /* dict: a copy of the one given */
    PyObject *fallback;
    PyObject **keys;     /* the table: str or NULL, `mask + 1` slots */
    PyObject **values;   /* borrowed from `names`, which holds them */
    size_t mask;
} Namespace;

static size_t
ascii_hash(const unsigned char *text, Py_ssize_t length)
{
    size_t hash = 2166136261u;  /* FNV-1a: a few instructions per character */
    for (Py_ssize_t i = 0; i < length; i++) {
        hash = (hash ^ text[i]) * 16777619u;
    }
    return hash;
}

/* An exact str whose characters are one byte each, all ASCII. */
static int
is_ascii_str(PyObject *text)
{
    if (!PyUnicode_CheckExact(text)) {
        return 0;
    }
#if PY_VERSION_HEX < 0x030C0000  /* before 3.12 a str may still have to be made "ready" */
    if (PyUnicode_READY(text) < 0) {
        PyErr_Clear();
        return 0;
    }
#endif
    return PyUnicode_IS_ASCII(text);
}

static int
Namespace_traverse(Namespace *self, visitproc visit, void *arg)
{
    Py_VISIT(self->names);
    Py_VISIT(self->fallback);
    return 0;
}

static void
Namespace_forget_table(Namespace *self)
{
    PyMem_Free(self->keys);  /* keys and values are borrowed from `names` */
    PyMem_Free(self->values);
    self->keys = self->values = NULL;
    self->mask = 0;
}

static int
Namespace_clear(Namespace *self)
{
    Namespace_forget_table(self);
    Py_CLEAR(self->names);
    Py_CLEAR(self->fallback);
    return 0;
}

static void
Namespace_dealloc(Namespace *self)
{
    PyObject_GC_UnTrack(self);
    Namespace_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Fill the table with the ASCII str keys of `names`: at most half full. */
static int
Namespace_build_table(Namespace *self)
{
    size_t size = 8;
    while (size < 2 * (size_t)PyDict_GET_SIZE(self->names) + 2) {
        size *= 2;
    }
    self->keys = PyMem_Calloc(size, sizeof(PyObject *));
    self->values = PyMem_Calloc(size, sizeof(PyObject *));
    if (self->keys == NULL || self->values == NULL) {
        Namespace_forget_table(self);
        PyErr_NoMemory();
        return -1;
    }
    self->mask = size - 1;
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(self->names, &position, &key, &value)) {
        if (!is_ascii_str(key)) {
            continue;  /* found through the dict */
        }
        size_t slot = ascii_hash(PyUnicode_1BYTE_DATA(key), PyUnicode_GET_LENGTH(key)) & self->mask;
        while (self->keys[slot] != NULL) {
            slot = (slot + 1) & self->mask;
        }
        self->keys[slot] = key;
        self->values[slot] = value;
    }
    return 0;
}

static PyObject *
Namespace_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *names, *fallback;
    static char *keywords[] = {"names", "fallback", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O:Namespace", keywords, &PyDict_Type, &names,
                                     &fallback)) {
        return NULL;
    }
    Namespace *self = (Namespace *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->names = PyDict_Copy(names);
    self->fallback = Py_NewRef(fallback);
    if (self->names == NULL || Namespace_build_table(self) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyObject *
Namespace_getattro(Namespace *self, PyObject *name)
{
    if (self->names == NULL) {  /* cleared by the garbage collector */
        PyErr_SetObject(PyExc_AttributeError, name);
        return NULL;
    }
    if (is_ascii_str(name)) {
        const unsigned char *text = PyUnicode_1BYTE_DATA(name);
        Py_ssize_t length = PyUnicode_GET_LENGTH(name);
        size_t slot = ascii_hash(text, length) & self->mask;
        PyObject *key;
        while ((key = self->keys[slot]) != NULL) {
            if (key == name || (PyUnicode_GET_LENGTH(key) == length
                                && memcmp(PyUnicode_1BYTE_DATA(key), text, length) == 0)) {
                return Py_NewRef(self->values[slot]);
            }
            slot = (slot + 1) & self->mask;
        }
        return PyObject_GetAttr(self->fallback, name);  /* no ASCII key of `names` */
    }
    PyObject *value = PyDict_GetItemWithError(self->names, name);  /* borrowed */
    if (value != NULL) {
        return Py_NewRef(value);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    return PyObject_GetAttr(self->fallback, name);
}

static PyTypeObject NamespaceType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "auditor.speed._speedups.Namespace",
    .tp_doc = PyDoc_STR("Namespace(names, fallback): attributes from (a copy of) the dict names, "
                        "else from fallback."),
    .tp_basicsize = sizeof(Namespace),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Namespace_new,
    .tp_dealloc = (destructor)Namespace_dealloc,
    .tp_traverse = (traverseproc)Namespace_traverse,
    .tp_clear = (inquiry)Namespace_clear,
    .tp_getattro = (getattrofunc)Namespace_getattro,
};

/* ---- the model's walk ------------------------------------------------------------------
 *
 * walk(root, fields, fields_of, keep, skip, ignored, classify, leaves, watched, parents,
 *      children_of) -> events
 *
 * The pre-order walk over a tree's syntactic nodes that auditor/analysis/model.py makes
 * (see `syntactic_children` and `_walk` there), in C: it fills `parents` (child ->
 * parent) for every node it meets and returns, flattened, the (node, entering) pairs of
 * the nodes whose type is in `watched`, in the order the Python walk would meet them
 * (the root: its leaving only, as there). The Python side runs the hooks from the events.
 * The tables are the Python walk's own: `fields` (type -> child-holding field names, or
 * None for "ask children_of(node)"; missing types are asked of fields_of(type) and kept),
 * `keep` (node types), `skip` (token types, left out of sequences), `ignored` (field
 * values that are never children), `classify(value)` for a value of a type in none of
 * them, `leaves` (types whose children are not walked).
 */

typedef struct {
    PyObject *node;      /* strong */
    PyObject *children;  /* strong: a list */
    Py_ssize_t next;
    int watched;
} Frame;

/* Append the syntactic children of `node` to a new list (NULL on error). */
static PyObject *
children(PyObject *node, PyObject *fields, PyObject *fields_of, PyObject *keep, PyObject *skip,
         PyObject *ignored, PyObject *classify, PyObject *children_of)
{
    PyObject *type = (PyObject *)Py_TYPE(node);
    PyObject *names = PyDict_GetItemWithError(fields, type);  /* borrowed */
    if (names == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        PyObject *found = PyObject_CallOneArg(fields_of, type);
        if (found == NULL) {
            return NULL;
        }
        int stored = PyDict_SetItem(fields, type, found);
        Py_DECREF(found);  /* the dict holds it now */
        if (stored < 0) {
            return NULL;
        }
        names = found;
    }
    if (!PyTuple_Check(names)) {  /* no table for this class: the Python walk's answer */
        PyObject *out = PyObject_CallOneArg(children_of, node);
        if (out != NULL && !PyList_CheckExact(out)) {
            Py_SETREF(out, PySequence_List(out));
        }
        return out;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value = PyObject_GetAttr(node, PyTuple_GET_ITEM(names, i));
        if (value == NULL) {
            goto fail;
        }
        PyObject *kind = (PyObject *)Py_TYPE(value);
        int r = PySet_Contains(keep, kind);
        if (r > 0) {
            r = PyList_Append(out, value);
        }
        else if (r == 0 && (PyTuple_CheckExact(value) || PyList_CheckExact(value))) {
            Py_ssize_t n = PySequence_Fast_GET_SIZE(value);
            PyObject **items = PySequence_Fast_ITEMS(value);
            for (Py_ssize_t j = 0; j < n && r >= 0; j++) {
                r = PySet_Contains(skip, (PyObject *)Py_TYPE(items[j]));
                if (r == 0) {
                    r = PyList_Append(out, items[j]);
                }
            }
        }
        else if (r == 0) {
            r = PySet_Contains(ignored, kind);
            if (r == 0) {  /* a kind met for the first time: the Python side decides and records */
                PyObject *verdict = PyObject_CallOneArg(classify, value);
                r = verdict == NULL ? -1 : PyObject_IsTrue(verdict);
                Py_XDECREF(verdict);
                if (r > 0) {
                    r = PyList_Append(out, value);
                }
            }
            else if (r > 0) {
                r = 0;
            }
        }
        Py_DECREF(value);
        if (r < 0) {
            goto fail;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static int
push(Frame **frames, Py_ssize_t *depth, Py_ssize_t *capacity, PyObject *node, PyObject *kids, int watched)
{
    if (*depth == *capacity) {
        Py_ssize_t grown = *capacity * 2;
        Frame *bigger = PyMem_Realloc(*frames, grown * sizeof(Frame));
        if (bigger == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        *frames = bigger;
        *capacity = grown;
    }
    Frame *frame = &(*frames)[(*depth)++];
    Py_INCREF(node);
    frame->node = node;
    frame->children = kids;  /* takes the reference */
    frame->next = 0;
    frame->watched = watched;
    return 0;
}

static PyObject *
walk(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *root, *fields, *fields_of, *keep, *skip, *ignored, *classify, *leaves, *watched, *parents,
        *children_of;
    if (!PyArg_ParseTuple(args, "OO!OO!O!O!OO!O!O!O:walk", &root, &PyDict_Type, &fields, &fields_of,
                          &PySet_Type, &keep, &PySet_Type, &skip, &PySet_Type, &ignored, &classify,
                          &PyFrozenSet_Type, &leaves, &PyDict_Type, &watched, &PyDict_Type, &parents,
                          &children_of)) {
        return NULL;
    }
    PyObject *events = PyList_New(0);
    if (events == NULL) {
        return NULL;
    }
    Py_ssize_t depth = 0, capacity = 64;
    Frame *frames = PyMem_Malloc(capacity * sizeof(Frame));
    if (frames == NULL) {
        Py_DECREF(events);
        return PyErr_NoMemory();
    }
    PyObject *kids = children(root, fields, fields_of, keep, skip, ignored, classify, children_of);
    int root_watched = kids == NULL ? -1 : PyDict_Contains(watched, (PyObject *)Py_TYPE(root));
    if (root_watched < 0 || push(&frames, &depth, &capacity, root, kids, root_watched) < 0) {
        Py_XDECREF(kids);
        goto fail;
    }
    while (depth > 0) {
        Frame *top = &frames[depth - 1];
        if (top->next == PyList_GET_SIZE(top->children)) {
            PyObject *node = top->node;
            int was_watched = top->watched;
            Py_DECREF(top->children);
            depth--;
            int r = 0;
            if (was_watched) {
                r = PyList_Append(events, node);
                if (r == 0) {
                    r = PyList_Append(events, Py_False);
                }
            }
            Py_DECREF(node);
            if (r < 0) {
                goto fail;
            }
            continue;
        }
        PyObject *child = PyList_GET_ITEM(top->children, top->next++);  /* borrowed; the list holds it */
        PyObject *node = top->node;
        if (PyDict_SetItem(parents, child, node) < 0) {
            goto fail;
        }
        PyObject *kind = (PyObject *)Py_TYPE(child);
        int r = PySet_Contains(leaves, kind);
        if (r < 0) {
            goto fail;
        }
        if (r > 0) {
            continue;
        }
        int is_watched = PyDict_Contains(watched, kind);
        if (is_watched < 0) {
            goto fail;
        }
        if (is_watched && (PyList_Append(events, child) < 0 || PyList_Append(events, Py_True) < 0)) {
            goto fail;
        }
        PyObject *grandchildren = children(child, fields, fields_of, keep, skip, ignored, classify, children_of);
        if (grandchildren == NULL || push(&frames, &depth, &capacity, child, grandchildren, is_watched) < 0) {
            Py_XDECREF(grandchildren);
            goto fail;
        }
    }
    PyMem_Free(frames);
    return events;
fail:
    while (depth > 0) {
        depth--;
        Py_DECREF(frames[depth].node);
        Py_DECREF(frames[depth].children);
    }
    PyMem_Free(frames);
    Py_DECREF(events);
    return NULL;
}

static PyMethodDef functions[] = {
    {"walk", walk, METH_VARARGS, PyDoc_STR("The model's pre-order walk (see auditor/analysis/model.py).")},
    {NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "auditor.speed._speedups",
    .m_doc = PyDoc_STR("auditor's optional C accelerator (see auditor/speed/speedups.py, auditor/analysis/model.py)."),
    .m_size = -1,
    .m_methods = functions,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (PyType_Ready(&BuilderType) < 0 || PyType_Ready(&NamespaceType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    required_marker = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (required_marker == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(required_marker);
    Py_INCREF(&BuilderType);
    Py_INCREF(&NamespaceType);
    if (PyModule_AddObject(m, "REQUIRED", required_marker) < 0
            || PyModule_AddObject(m, "Builder", (PyObject *)&BuilderType) < 0
            || PyModule_AddObject(m, "Namespace", (PyObject *)&NamespaceType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
