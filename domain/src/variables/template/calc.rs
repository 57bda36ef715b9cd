//! `#{calc A * (B + 2)}`: arithmetic over numbers and variables (`+ - * / %`, parentheses,
//! unary minus). A name is a variable whose value must be a number; names with `-` or `/`
//! in them are written in braces, as in Octostache (`#{calc {my-var} - 1}`).

/// Evaluates `expr`; `lookup` gives a variable's value. Errors say what to fix.
pub(crate) fn evaluate(
    expr: &str,
    lookup: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
) -> Result<String, String> {
    let mut p = Calc {
        chars: expr.chars().collect(),
        pos: 0,
        lookup,
    };
    let v = p.expr(0)?;
    p.skip();
    if p.pos < p.chars.len() {
        return Err(format!("unexpected '{}' in '{expr}'", p.chars[p.pos]));
    }
    if !v.is_finite() {
        return Err(format!(
            "'{expr}' is not a finite number (division by zero?)"
        ));
    }
    Ok(if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    })
}

struct Calc<'a> {
    chars: Vec<char>,
    pos: usize,
    lookup: &'a mut dyn FnMut(&str) -> Result<Option<String>, String>,
}

impl Calc<'_> {
    fn variable(&mut self, name: &str) -> Result<f64, String> {
        let value =
            (self.lookup)(name)?.ok_or_else(|| format!("variable '{name}' is not defined"))?;
        value
            .trim()
            .parse()
            .map_err(|_| format!("variable '{name}' is not a number"))
    }

    fn skip(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip();
        self.chars.get(self.pos).copied()
    }

    fn expr(&mut self, depth: usize) -> Result<f64, String> {
        let mut v = self.term(depth)?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let r = self.term(depth)?;
            v = if op == '+' { v + r } else { v - r };
        }
        Ok(v)
    }

    fn term(&mut self, depth: usize) -> Result<f64, String> {
        let mut v = self.factor(depth)?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek() {
            self.pos += 1;
            let r = self.factor(depth)?;
            v = match op {
                '*' => v * r,
                '/' => v / r,
                _ => v % r,
            };
        }
        Ok(v)
    }

    fn factor(&mut self, depth: usize) -> Result<f64, String> {
        if depth > 64 {
            return Err("the expression nests too deeply".into());
        }
        match self.peek() {
            Some('-') => {
                self.pos += 1;
                Ok(-self.factor(depth + 1)?)
            }
            Some('(') => {
                self.pos += 1;
                let v = self.expr(depth + 1)?;
                if self.peek() != Some(')') {
                    return Err("a '(' has no closing ')'".into());
                }
                self.pos += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                {
                    self.pos += 1;
                }
                let n: String = self.chars[start..self.pos].iter().collect();
                n.parse().map_err(|_| format!("'{n}' is not a number"))
            }
            Some('{') => {
                // `{Name}`: any variable name, `-` and `/` included.
                let start = self.pos + 1;
                let end = self.chars[start..]
                    .iter()
                    .position(|c| *c == '}')
                    .map(|p| start + p)
                    .ok_or("a '{' has no closing '}'")?;
                self.pos = end + 1;
                let name: String = self.chars[start..end].iter().collect();
                self.variable(name.trim())
            }
            Some(c) if c.is_alphanumeric() || c == '_' => {
                let start = self.pos;
                while self.chars.get(self.pos).is_some_and(|c| {
                    c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '[' | ']')
                }) {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                self.variable(&name)
            }
            Some(c) => Err(format!("unexpected '{c}'")),
            None => Err("the expression ends too early".into()),
        }
    }
}
